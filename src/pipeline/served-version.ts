// X-Ledgerproxy-Version: the version of the answer actually served, for a single latest read the
// proxy resolved to a head. A STALE answer is for an older version than the plan's: when it is the
// previous head's entry (stale-while-revalidate, or stale-if-error falling back to it), the header
// says that older version, so a monotonic client never takes an old answer for a new one.
import type { TieredStore } from '../cache/tiered-store.js';
import type { CallPlan } from '../runtime/types.js';
import type { CallResult } from '../runtime/types.js';

export function servedVersion(plans: readonly CallPlan[], results: readonly CallResult[], cache: TieredStore): bigint | undefined {
  if (plans.length !== 1) return undefined;
  const plan = plans[0];
  const result = results[0];
  if (!plan || result?.cache !== 'stale') return plan?.answersFor;
  const fallback = plan.fallbackKey;
  if (fallback === undefined || fallback === plan.key || plan.fallbackVersion === undefined) return plan.answersFor;
  const entry = cache.memory.getSync(fallback) ?? cache.memory.getStaleSync(fallback);
  return entry === result.answer.entry ? plan.fallbackVersion : plan.answersFor;
}
