// Step 7. Stale-if-error. When the nodes failed this call (an upstream error, or an answer whose
// status says the node is failing: 5xx, 429), an older answer to the same read is served marked
// STALE instead, and it settles the leader's flight so followers get it too. Cache safety:
// - only after a failure of the *nodes*: a client error, or a node's definite answer (a 404, a
//   JSON-RPC error object), is the truth and is passed on;
// - only the call's own entry kept past its life (until staleUntil), or the previous head's answer
//   to the same latest read, and either only if it expired / was stored no longer ago than the
//   route's staleIfErrorMs: the bound an operator set is never stretched.
import type { CacheEntry } from '../../cache/types.js';
import type { TieredStore } from '../../cache/tiered-store.js';
import type { CallPlan, Outcome } from '../../runtime/types.js';
import { isNodeFailureStatus } from '../../upstream/health.js';
import type { CallSlot, CallStep } from './types.js';
import { settle } from './types.js';

export const staleIfError: CallStep = (open, run) => {
  // Nearly always nothing failed: then the step is one pass over the open calls.
  if (!open.some(mayServeStale)) return;
  return Promise.all(open.filter(mayServeStale).map((slot) => serveStale(slot, run.cache)));
};

function mayServeStale(slot: CallSlot): boolean {
  return slot.fetched !== undefined && slot.plan.staleIfErrorMs > 0 && nodesFailed(slot.fetched);
}

function nodesFailed(outcome: Outcome): boolean {
  return outcome.ok ? isNodeFailureStatus(outcome.answer.entry.status) : outcome.error.source === 'upstream';
}

async function serveStale(slot: CallSlot, cache: TieredStore): Promise<void> {
  const entry = await staleEntry(slot.plan, cache, Date.now());
  if (!entry) return;
  const answer = { entry };
  settle(slot, { cache: 'stale', answer });
  slot.leader?.settle(answer);
}

async function staleEntry(plan: CallPlan, cache: TieredStore, now: number): Promise<CacheEntry | undefined> {
  const bound = plan.staleIfErrorMs;
  if (plan.key !== undefined) {
    const own = await cache.lookupStale(plan.key);
    if (own && now - own.expiresAt <= bound) return own;
  }
  if (plan.fallbackKey === undefined || plan.fallbackKey === plan.key) return undefined;
  const previous = cache.memory.getSync(plan.fallbackKey) ?? cache.memory.getStaleSync(plan.fallbackKey);
  return previous && now - previous.storedAt <= bound ? previous : undefined;
}
