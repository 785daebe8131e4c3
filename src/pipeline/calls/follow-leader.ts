// Step 9. Followers wait for the call they joined, bounded by their own request's deadline (the
// shared call is bounded by the leader's upstream timeouts; a follower that gives up cancels
// nothing). They get the leader's answer, or its error. An answer that opened node-local state for
// the leader alone (a Neo iterator session) is not theirs to use: refetchExclusive asks again.
import { withDeadline } from '../../coalesce/singleflight.js';
import { asProxyError, UpstreamTimeoutError } from '../../errors.js';
import type { Answer } from '../../runtime/types.js';
import type { CallSlot, CallStep } from './types.js';
import { settle } from './types.js';

export const followLeader: CallStep = (open, run) => {
  const following = open.filter((s) => s.flight !== undefined);
  if (following.length === 0) return;
  return Promise.all(following.map((slot) => follow(slot, run.timeoutMs))).then(() => undefined);
};

async function follow(slot: CallSlot, timeoutMs: number): Promise<void> {
  try {
    const answer = await withDeadline(slot.flight as Promise<Answer>, timeoutMs, () => new UpstreamTimeoutError('timed out waiting for a shared upstream call'));
    if (answer.exclusive) slot.refetch = true;
    else settle(slot, { cache: 'coalesced', answer });
  } catch (err) {
    settle(slot, { cache: 'error', error: asProxyError(err) });
  }
}
