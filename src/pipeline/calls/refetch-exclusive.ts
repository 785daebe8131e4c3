// Step 10. A follower whose leader's answer was for the leader alone (it opened a Neo iterator
// session on one node) makes its own call, uncoalesced and unstored: two clients must never
// consume one iterator.
import type { Outcome } from '../../runtime/types.js';
import { fetchOutcomes, settle, type CallSlot, type CallStep } from './types.js';

export const refetchExclusive: CallStep = (open, run) => {
  if (!open.some(mustRefetch)) return;
  return fetchOutcomes(run, open.filter(mustRefetch), settleOwn);
};

function mustRefetch(slot: CallSlot): boolean {
  return slot.refetch === true;
}

function settleOwn(slot: CallSlot, outcome: Outcome): void {
  settle(slot, outcome.ok ? { cache: 'bypass', answer: outcome.answer } : { cache: 'error', error: outcome.error });
}
