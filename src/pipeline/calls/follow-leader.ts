// Step 9. Followers wait for the call they joined, bounded by their own request's deadline (the
// shared call is bounded by the leader's upstream timeouts; a follower that gives up cancels
// nothing). They get the leader's answer, or its error. An answer that opened node-local state for
// the leader alone (a Neo iterator session) is not theirs to use: refetchExclusive asks again.
//
// A herd has hundreds of followers answered one after the other once the leader settles, so the
// follower's part is kept short: one promise per follower, and the result every follower of a
// flight gets ({ coalesced, the leader's answer }) is made once, by the first, and shared. A flight
// joined by joinFlight is already bounded by the request's deadline (the flight keeps one timer for
// all its followers); any other promise gets its own deadline here.
import { isBounded, withDeadline } from '../../coalesce/singleflight.js';
import { asProxyError, UpstreamTimeoutError } from '../../errors.js';
import type { Answer, CallResult } from '../../runtime/types.js';
import type { CallSlot, CallStep } from './types.js';
import { settle } from './types.js';

export const followLeader: CallStep = (open, run) => {
  let one: Promise<void> | undefined;
  let more: Promise<void>[] | undefined;
  for (const slot of open) {
    if (slot.flight === undefined) continue;
    const wait = follow(slot, slot.flight, run.timeoutMs);
    if (one === undefined) one = wait;
    else (more ??= [one]).push(wait);
  }
  return more ? Promise.all(more) : one;
};

function follow(slot: CallSlot, flight: Promise<Answer>, timeoutMs: number): Promise<void> {
  const waiting = isBounded(flight) ? flight : withDeadline(flight, timeoutMs, waitedTooLong);
  return waiting.then(
    (answer) => {
      if (answer.exclusive) slot.refetch = true;
      else settle(slot, coalesced(answer));
    },
    (err: unknown) => settle(slot, { cache: 'error', error: asProxyError(err) }),
  );
}

export function waitedTooLong(): Error {
  return new UpstreamTimeoutError('timed out waiting for a shared upstream call');
}

/** The followers' result for a leader's answer, kept on the answer (which never changes) by the first. */
const COALESCED = Symbol('coalescedResult');

function coalesced(answer: Answer): CallResult {
  const memo = answer as Answer & { [COALESCED]?: CallResult };
  return (memo[COALESCED] ??= { cache: 'coalesced', answer });
}
