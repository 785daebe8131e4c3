// L1: an in-process LRU bounded by bytes, not entries. Blockchain answers range from a few bytes
// (eth_chainId) to megabytes (a full block with transactions), so an entry count says nothing about
// memory; the byte bound is what keeps a sidecar inside its container limit.
import { ByteLru, NONE } from './byte-lru.js';
import { EntryColumns, keptUntil } from './entry-columns.js';
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
  /**
   * The LRU's value for a slot is the entry as an object once it has been read, undefined before:
   * a stored entry is kept in `columns` (entry-columns.ts says why), and made an object when first
   * read, which is then kept and shared by every later read.
   */
  private readonly lru: ByteLru<CacheEntry>;
  private readonly columns = new EntryColumns();
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
    const columns = this.columns;
    this.lru = new ByteLru<CacheEntry>(
      this.maxBytes,
      () => {
        evictions.n++;
      },
      { grown: (slots) => columns.grow(slots), released: (slot) => columns.release(slot) },
    );
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
    const slot = this.lru.slotOf(key);
    if (slot !== NONE) {
      if (this.columns.expiresAt(slot) > Date.now()) {
        this.hits.n++;
        return this.entryAt(slot);
      }
      // Past its life: kept only while it may still serve as a stale answer.
      this.dropIfGone(key, slot);
    }
    if (countMiss) this.misses.n++;
    return undefined;
  }

  /** The entry in slot as an object, made on its first read and kept. */
  private entryAt(slot: number): CacheEntry {
    let entry = this.lru.valueAt(slot);
    if (entry === undefined) {
      entry = this.columns.read(slot);
      this.lru.setValueAt(slot, entry);
    }
    return entry;
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    this.setSync(key, entry);
  }

  /** An expired entry still kept for stale serving (undefined when fresh, absent or gone). */
  getStaleSync(key: string): CacheEntry | undefined {
    const slot = this.lru.slotOf(key);
    if (slot === NONE || this.columns.expiresAt(slot) > Date.now()) return undefined;
    return this.dropIfGone(key, slot) ? undefined : this.entryAt(slot);
  }

  /** Stores for the remaining lifetime of the entry; returns false when it was not kept. */
  setSync(key: string, entry: CacheEntry): boolean {
    const size = entrySize(key, entry);
    if (keptUntil(entry.expiresAt, entry.staleUntil) <= Date.now() || size > this.maxEntryBytes) return false;
    // The LRU makes room first (evicting, which releases slots), then the fields go in the slot.
    this.columns.write(this.lru.set(key, undefined, size), entry);
    this.stores.n++;
    return true;
  }

  /** Deletes an entry past its staleUntil (as lru-cache's own TTL did on a lookup); true if it went. */
  private dropIfGone(key: string, slot: number): boolean {
    if (this.columns.keptUntil(slot) > Date.now()) return false;
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
      for (const slot of this.lru.slots()) {
        const k = this.lru.keyAt(slot);
        if (k.startsWith(prefix) && this.columns.keptUntil(slot) > now) doomed.push(k);
      }
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
