// The call contract, in order. Read top to bottom, this is what happens to every call of a
// request: an invalid call is refused; a stored answer in L1 is served; an identical call in
// flight is joined (or led); L2 is asked; a latest read whose head just moved may get the previous
// head's answer while one refresh runs; the rest goes upstream; a failure of the nodes may be
// covered by an older answer; a fresh answer is stored and shared with the flight; followers take
// their leader's answer; an answer for the leader alone is asked again. Each step settles what it
// can; the serve loop (serve.ts) runs the next one over the calls still open.
import { fetchUpstream } from './fetch-upstream.js';
import { followLeader } from './follow-leader.js';
import { joinFlight } from './join-flight.js';
import { memoryHit } from './memory-hit.js';
import { redisHit } from './redis-hit.js';
import { refetchExclusive } from './refetch-exclusive.js';
import { rejectInvalid } from './reject-invalid.js';
import { staleIfError } from './stale-if-error.js';
import { staleWhileRevalidate } from './stale-while-revalidate.js';
import { storeAndSettle } from './store-and-settle.js';
import type { CallStep } from './types.js';

export const callSteps: readonly CallStep[] = [
  rejectInvalid,
  memoryHit,
  joinFlight,
  redisHit,
  staleWhileRevalidate,
  fetchUpstream,
  staleIfError,
  storeAndSettle,
  followLeader,
  refetchExclusive,
];

/** The refresh behind a stale-while-revalidate answer: the same steps from the upstream fetch on. */
export const refreshSteps: readonly CallStep[] = [fetchUpstream, staleIfError, storeAndSettle];
