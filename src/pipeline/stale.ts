// Older answers the proxy may serve, marked X-Cache: STALE, when the route allows it:
// - stale-if-error: every node failed; an expired answer of the same read (kept until its
//   staleUntil), or the previous head's answer to the same latest read, no older than the bound;
// - stale-while-revalidate: a latest read whose head snapshot just moved; the previous head's
//   answer, no older than the bound, is served while one refresh runs in the background.
import type { CacheEntry } from '../cache/types.js';
import type { TieredStore } from '../cache/tiered-store.js';
import type { RedisStore } from '../cache/redis-store.js';
import type { CallPlan } from './plan-call.js';

export async function staleForError(plan: CallPlan, cache: TieredStore, now: number): Promise<CacheEntry | undefined> {
  if (plan.staleIfErrorMs <= 0) return undefined;
  const young = (e: CacheEntry | undefined) => (e && now - e.expiresAt <= plan.staleIfErrorMs ? e : undefined);
  if (plan.key !== undefined) {
    const own = young(cache.memory.getStaleSync(plan.key)) ?? young(await remoteStale(cache, plan.key));
    if (own) return own;
  }
  return previousHeadAnswer(plan, cache, plan.staleIfErrorMs, now);
}

/** The previous head's answer for a latest read, if young enough to serve while refreshing. */
export function staleWhileRevalidate(plan: CallPlan, cache: TieredStore, now: number): CacheEntry | undefined {
  if (plan.staleWhileRevalidateMs <= 0 || plan.fallbackKey === undefined || plan.fallbackKey === plan.key) return undefined;
  const entry = cache.memory.getSync(plan.fallbackKey) ?? cache.memory.getStaleSync(plan.fallbackKey);
  return entry && now - entry.storedAt <= plan.staleWhileRevalidateMs ? entry : undefined;
}

function previousHeadAnswer(plan: CallPlan, cache: TieredStore, maxAgeMs: number, now: number): CacheEntry | undefined {
  if (plan.fallbackKey === undefined || plan.fallbackKey === plan.key) return undefined;
  const entry = cache.memory.getSync(plan.fallbackKey) ?? cache.memory.getStaleSync(plan.fallbackKey);
  return entry && now - entry.storedAt <= maxAgeMs ? entry : undefined;
}

async function remoteStale(cache: TieredStore, key: string): Promise<CacheEntry | undefined> {
  const remote = cache.remote as RedisStore | undefined;
  return remote && typeof remote.getStale === 'function' ? remote.getStale(key) : undefined;
}
