// Step 5. Stale-while-revalidate, for latest reads only. When the head snapshot has just moved,
// the previous head's answer to the same read (plan.fallbackKey) is served at once, marked STALE,
// if it is younger than the route's staleWhileRevalidateMs; one refresh for the new head runs on
// without this client, and the calls that follow its flight still wait for it. Cache safety:
// - only a leader may do this: it owns the flight, and its refresh settles it, so followers never
//   get the stale answer as if it were the new head's;
// - only the previous head's entry of the *same* read (a different key than the call's own), and
//   only while it is young: a stale answer is never older than the bound the route set.
// A call whose route turned it off (the default) costs one comparison: its fallback key is never
// even hashed (plan-call.ts makes it on first use).
import type { CacheEntry } from '../../cache/types.js';
import type { TieredStore } from '../../cache/tiered-store.js';
import type { CallPlan } from '../../runtime/types.js';
import type { CallSlot, CallStep } from './types.js';
import { settle } from './types.js';

export const staleWhileRevalidate: CallStep = (open, run) => {
  let refreshing: CallSlot[] | undefined;
  for (const slot of open) {
    if (!slot.leader || slot.plan.staleWhileRevalidateMs <= 0) continue;
    const entry = previousHeadAnswer(slot.plan, run.cache, Date.now());
    if (!entry) continue;
    settle(slot, { cache: 'stale', answer: { entry } });
    (refreshing ??= []).push({ index: slot.index, plan: slot.plan, leader: slot.leader });
  }
  if (refreshing) run.refresh(refreshing);
};

function previousHeadAnswer(plan: CallPlan, cache: TieredStore, now: number): CacheEntry | undefined {
  const { staleWhileRevalidateMs } = plan;
  if (staleWhileRevalidateMs <= 0) return undefined;
  // Read only now: the fallback key is derived on first read (the plan in plan-call.ts).
  const fallbackKey = plan.fallbackKey;
  if (fallbackKey === undefined || fallbackKey === plan.key) return undefined;
  const entry = cache.memory.getSync(fallbackKey) ?? cache.memory.getStaleSync(fallbackKey);
  return entry && now - entry.storedAt <= staleWhileRevalidateMs ? entry : undefined;
}
