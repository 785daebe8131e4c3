// Step 10. A follower whose leader's answer was for the leader alone (it opened a Neo iterator
// session on one node) makes its own call, uncoalesced and unstored: two clients must never
// consume one iterator.
import { asProxyError } from '../../errors.js';
import type { Outcome } from '../../runtime/types.js';
import type { CallStep } from './types.js';
import { settle } from './types.js';

export const refetchExclusive: CallStep = async (open, run) => {
  const redo = open.filter((s) => s.refetch === true);
  if (redo.length === 0) return;
  let fetched: Outcome[];
  try {
    fetched = await run.fetch(redo.map((s) => s.plan));
  } catch (err) {
    const error = asProxyError(err);
    fetched = redo.map(() => ({ ok: false, error }));
  }
  redo.forEach((slot, n) => {
    const outcome = fetched[n] ?? { ok: false, error: asProxyError(new Error('no answer for call')) };
    settle(slot, outcome.ok ? { cache: 'bypass', answer: outcome.answer } : { cache: 'error', error: outcome.error });
  });
};
