// L1: an in-process LRU bounded by bytes, not entries. Blockchain answers range from a few bytes
// (eth_chainId) to megabytes (a full block with transactions), so an entry count says nothing about
// memory; the byte bound is what keeps a sidecar inside its container limit.
import { ByteLru } from './byte-lru.js';
import { cacheBytes, cacheEntries, cacheEvictionsCells, cacheLookupsCells, cacheStoresCells, setMemoryGaugesReader } from '../metrics/metrics.js';
import type { CacheEntry, CacheStore, CacheTier } from './types.js';

export interface MemoryStoreOptions {
  /** Upper bound on the summed size of all entries (see entrySize). */
  maxBytes: number;
  /** Entries larger than this are not kept in memory at all (default: maxBytes / 8). */
  maxEntryBytes?: number;
}

/**
 * Fixed per-entry cost on top of body and headers: the entry object, the LRU's map slot and index
 * arrays, the key string. An estimate, but it keeps a flood of tiny entries from being counted as free.
 */
// What an entry costs beyond its body and header text: the entry object, its headers array and
// pairs, the key string, the LRU's slots. Measured at 1-2 KiB of heap per entry under load; an
// undercount here lets RSS drift past maxBytes.
export const ENTRY_OVERHEAD = 1024;

/** Until when the store keeps an entry: its staleUntil when it may be served stale, else expiresAt. */
function keptUntil(e: CacheEntry): number {
  return e.staleUntil === undefined || e.staleUntil < e.expiresAt ? e.expiresAt : e.staleUntil;
}

/** Bytes an entry is charged against maxBytes. */
export function entrySize(key: string, e: CacheEntry): number {
  let size = ENTRY_OVERHEAD + key.length + e.body.length;
  // Strings may be two bytes a char, and each pair is an array of its own. An index loop: the
  // destructuring for-of made an iterator per stored entry (~40 B a call in a batch's heap profile).
  const headers = e.headers;
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i] as readonly [string, string];
    size += 2 * (pair[0].length + pair[1].length) + 64;
  }
  return size;
}

export class MemoryStore implements CacheStore {
  readonly tier: CacheTier = 'memory';
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  private readonly lru: ByteLru<CacheEntry>;
  // Counter cells bound once: an increment is a property add, not a label join and map lookup.
  private readonly hits = cacheLookupsCells.cell([this.tier, 'hit']);
  private readonly misses = cacheLookupsCells.cell([this.tier, 'miss']);
  private readonly stores = cacheStoresCells.cell([this.tier]);
  private readonly evictions = cacheEvictionsCells.cell([this.tier]);

  constructor(opts: MemoryStoreOptions) {
    this.maxBytes = Math.floor(opts.maxBytes);
    this.maxEntryBytes = Math.floor(Math.min(opts.maxEntryBytes ?? this.maxBytes / 8, this.maxBytes));
    if (this.maxBytes < 1 || this.maxEntryBytes < 1) throw new RangeError('memory cache needs maxBytes ≥ 1');
    const evictions = this.evictions;
    // No TTL in the LRU: every entry carries its own expiresAt/staleUntil, which the lookups check
    // anyway, and an entry past its life is dropped when it is looked up or pushed out by the LRU
    // order (no timer per entry). The size is computed once in setSync and passed; entries over
    // maxEntryBytes never reach the LRU (setSync refuses them).
    this.lru = new ByteLru<CacheEntry>(this.maxBytes, () => {
      evictions.n++;
    });
    setMemoryGaugesReader(() => this.updateGauges());
    this.updateGauges();
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return this.getSync(key);
  }

  /**
   * Synchronous lookup for the hot path; same semantics as get(). countMiss false: a probe whose
   * miss is followed by the real lookup (the hit shortcut), so one request counts one miss.
   */
  getSync(key: string, countMiss = true): CacheEntry | undefined {
    const entry = this.lru.get(key);
    if (entry !== undefined) {
      if (entry.expiresAt > Date.now()) {
        this.hits.n++;
        return entry;
      }
      // Past its life: kept only while it may still serve as a stale answer.
      this.dropIfGone(key, entry);
    }
    if (countMiss) this.misses.n++;
    return undefined;
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    this.setSync(key, entry);
  }

  /** An expired entry still kept for stale serving (undefined when fresh, absent or gone). */
  getStaleSync(key: string): CacheEntry | undefined {
    const entry = this.lru.get(key);
    if (entry === undefined || entry.expiresAt > Date.now()) return undefined;
    return this.dropIfGone(key, entry) ? undefined : entry;
  }

  /** Stores for the remaining lifetime of the entry; returns false when it was not kept. */
  setSync(key: string, entry: CacheEntry): boolean {
    const size = entrySize(key, entry);
    if (keptUntil(entry) <= Date.now() || size > this.maxEntryBytes) return false;
    this.lru.set(key, entry, size);
    this.stores.n++;
    return true;
  }

  /** Deletes an entry past its staleUntil (as lru-cache's own TTL did on a lookup); true if it went. */
  private dropIfGone(key: string, entry: CacheEntry): boolean {
    if (keptUntil(entry) > Date.now()) return false;
    this.lru.delete(key);
    return true;
  }

  async purge(prefix: string): Promise<number> {
    let count = 0;
    if (prefix === '') {
      count = this.lru.size;
      this.lru.clear();
    } else {
      // Collect first: deleting while iterating the LRU's linked list would skip entries. An entry
      // past its staleUntil is not counted (it is already gone for every lookup).
      const now = Date.now();
      const doomed: string[] = [];
      for (const [k, e] of this.lru.entries()) if (k.startsWith(prefix) && keptUntil(e) > now) doomed.push(k);
      for (const k of doomed) if (this.lru.delete(k)) count++;
    }
    this.updateGauges();
    return count;
  }

  async close(): Promise<void> {
    this.lru.clear();
    this.updateGauges();
  }

  /** Entries held (expired ones included until they are looked up or evicted). */
  get size(): number {
    return this.lru.size;
  }

  /** Bytes charged against maxBytes. */
  get bytes(): number {
    return this.lru.calculatedSize;
  }

  private updateGauges(): void {
    cacheEntries.set({ tier: this.tier }, this.lru.size);
    cacheBytes.set({ tier: this.tier }, this.lru.calculatedSize);
  }
}
