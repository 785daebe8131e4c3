// Step 10. A follower whose leader's answer was for the leader alone (it opened a Neo iterator
// session on one node) makes its own call, uncoalesced and unstored: two clients must never
// consume one iterator.
import type { Outcome } from '../../runtime/types.js';
import { fetchOutcomes, settle, type CallStep } from './types.js';

export const refetchExclusive: CallStep = async (open, run) => {
  const redo = open.filter((s) => s.refetch === true);
  if (redo.length === 0) return;
  const fetched = await fetchOutcomes(run, redo);
  redo.forEach((slot, n) => {
    const outcome = fetched[n] as Outcome;
    settle(slot, outcome.ok ? { cache: 'bypass', answer: outcome.answer } : { cache: 'error', error: outcome.error });
  });
};
