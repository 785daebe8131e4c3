// L1 in front of an optional shared L2. A hit in L2 is copied into L1 so the next lookup for the
// key stays in-process; writes go to both, but only the L1 write is on the caller's path: the L2
// write runs in the background (its failures are counted by the L2 store and otherwise ignored).
import { cacheStoredBytesCells } from '../metrics/metrics.js';
import type { MemoryStore } from './memory-store.js';
import { PurgeGenerations } from './purge-generation.js';
import type { CacheEntry, CacheStore, CacheTier } from './types.js';

// Bound once: an increment per fill is a property add, not a label join and map lookup.
const rawBytes = cacheStoredBytesCells.cell(['raw']);
const storedBytes = cacheStoredBytesCells.cell(['stored']);

/**
 * Where a plan notes the purge generation its fetch began in (see mayStore): a property of this
 * symbol on the plan object (a WeakMap keyed by short-lived plans cost the GC an ephemeron per
 * call). pipeline/plan-call.ts declares it on its plans, so setting it adds no property (and no
 * out-of-object property array) to a plan. A plan is fetched through the one store of its proxy.
 */
export const FETCH_GENERATION: unique symbol = Symbol('fetchGeneration');

export interface TieredStoreOptions {
  memory: MemoryStore;
  /** The shared tier (a RedisStore); absent when Redis is not configured. */
  remote?: CacheStore;
}

export interface TieredHit {
  entry: CacheEntry;
  /** Where it was found: for X-Cache style headers and debugging. */
  tier: CacheTier;
}

export class TieredStore implements CacheStore {
  /** The front tier; per-tier metrics are recorded by the tiers themselves. */
  readonly tier: CacheTier = 'memory';
  readonly memory: MemoryStore;
  readonly remote: CacheStore | undefined;
  /** L2 writes still running; close() and flush() wait for them. */
  private readonly pending = new Set<Promise<void>>();
  /** Purges by generation: answers of fetches that began before a purge are not stored. */
  readonly generations = new PurgeGenerations();

  constructor(opts: TieredStoreOptions) {
    this.memory = opts.memory;
    this.remote = opts.remote;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return (await this.lookup(key))?.entry;
  }

  /** Like get(), and says which tier answered. */
  async lookup(key: string): Promise<TieredHit | undefined> {
    const local = this.memory.getSync(key);
    if (local) return { entry: local, tier: 'memory' };
    if (!this.remote) return undefined;
    const entry = await this.remote.get(key);
    if (!entry) return undefined;
    // expiresAt travels with the entry, so L1 keeps it only for its remaining lifetime.
    this.memory.setSync(key, entry);
    return { entry, tier: this.remote.tier };
  }

  /**
   * An entry kept past its life (until its staleUntil), L1 first, then L2; for the stale-serving
   * steps only, which decide how old is still acceptable. Not copied into L1: it is not fresh.
   */
  async lookupStale(key: string): Promise<CacheEntry | undefined> {
    const local = this.memory.getStaleSync(key);
    if (local) return local;
    const remote = this.remote as (CacheStore & { getStale?(key: string): Promise<CacheEntry | undefined> }) | undefined;
    return remote?.getStale ? remote.getStale(key) : undefined;
  }

  /** Resolves once L1 holds the entry; the L2 write continues in the background. */
  async set(key: string, entry: CacheEntry): Promise<void> {
    this.fill(key, entry);
  }

  /** set() without its promise, for the fill of every stored miss (cache/policy.ts). */
  fill(key: string, entry: CacheEntry): void {
    // Counted here, once per fill, not per tier: the ratio stored/raw is the compression gain.
    rawBytes.n += entry.rawLength;
    storedBytes.n += entry.body.length;
    this.memory.setSync(key, entry);
    if (this.remote) this.track(this.remote.set(key, entry));
  }

  /** Entries deleted in both tiers together (a key held in both counts twice); see purgeByTier. */
  async purge(prefix: string): Promise<number> {
    const { memory, remote } = await this.purgeByTier(prefix);
    return memory + remote;
  }

  /**
   * Called as a fetch begins (pipeline/request-run.ts): each plan remembers the generation its
   * fetch began in (see mayStore). The plan objects must be the ones later given to mayStore.
   */
  fetchesBegin(plans: readonly object[]): void {
    const generation = this.generations.generation;
    for (const plan of plans) (plan as Record<symbol, number>)[FETCH_GENERATION] = generation;
  }

  /** False when a purge covering key came after this plan's fetch began: its answer is from before. */
  mayStore(plan: object, key: string): boolean {
    const since = (plan as Record<symbol, number | undefined>)[FETCH_GENERATION];
    return since === undefined || !this.generations.purgedSince(since, key);
  }

  /** Purges L1, then L2; rejects when L2 could not be purged (entries may survive there). */
  async purgeByTier(prefix: string): Promise<{ memory: number; remote: number }> {
    // First: from now on no fetch that began before this purge stores its answer.
    this.generations.purged(prefix);
    const memory = await this.memory.purge(prefix);
    // A write still in flight could land after the purge and resurrect a purged key.
    await this.flush();
    const remote = this.remote ? await this.remote.purge(prefix) : 0;
    return { memory, remote };
  }

  /** Waits for the background L2 writes started so far. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all([this.memory.close(), this.remote?.close()]);
  }

  private track(write: Promise<void>): void {
    // CacheStore.set never rejects, but a background promise must not become an unhandled rejection.
    const p = write.catch(() => undefined).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }
}
