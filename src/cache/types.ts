// What the cache holds and the store interface every tier implements.

/**
 * A stored answer. The body is kept either as identity bytes or as a raw-deflate segment ended by a
 * sync flush (see src/response/gzip-splice.ts): such a segment can be wrapped into a complete gzip
 * member with a few header/trailer bytes, alone or spliced between other segments (a JSON-RPC
 * envelope with the client's id), so a hit is never compressed again.
 */
export interface CacheEntry {
  status: number;
  /** Headers worth keeping (content-type, x-aptos-*), lower-case names, in a stable order. */
  headers: ReadonlyArray<readonly [string, string]>;
  body: Buffer;
  /** true: body is a sync-flushed raw-deflate segment; false: body is the identity bytes. */
  compressed: boolean;
  /** CRC-32 (gzip polynomial) of the identity bytes; CRC_UNKNOWN (response/gzip-splice.ts) until first read through segmentCrc32. */
  crc32: number;
  /** Length of the identity bytes. */
  rawLength: number;
  /** Epoch ms when the entry was filled. */
  storedAt: number;
  /** Epoch ms after which the entry must not be served as fresh. */
  expiresAt: number;
  /**
   * Epoch ms until which an expired entry is still kept, to be served marked STALE when every node
   * fails (stale-if-error) or while a refresh runs (stale-while-revalidate). Absent: expiresAt.
   */
  staleUntil?: number;
}

export type CacheTier = 'memory' | 'redis';

export interface CacheStore {
  readonly tier: CacheTier;
  /** Never throws: a store that cannot answer returns undefined (a miss). */
  get(key: string): Promise<CacheEntry | undefined>;
  /** Never throws; ttlMs > 0. Fire-and-forget is fine for remote tiers. */
  set(key: string, entry: CacheEntry): Promise<void>;
  /** Deletes every key that starts with prefix ('' = all of this proxy's keys). Returns how many. */
  purge(prefix: string): Promise<number>;
  close(): Promise<void>;
}
