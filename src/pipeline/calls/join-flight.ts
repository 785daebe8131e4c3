// Step 3. Coalescing. A call with a key that missed L1 either follows the identical call already
// in flight or becomes its leader. The leader is registered here, in the same synchronous step as
// the L1 miss, so there is no window in which a second request can miss both the cache and the
// flight and call the node again. A leader must settle or fail its flight in a later step (redisHit,
// staleIfError, storeAndSettle); followers are answered by followLeader. Calls without a key
// (writes, uncached reads) are never coalesced: two writes are two writes.
//
// A follower joins with its request's deadline: it waits in the flight, which bounds every
// follower's wait with one timer (coalesce/singleflight.ts), not a timer each.
import { waitedTooLong } from './follow-leader.js';
import type { CallStep } from './types.js';

export const joinFlight: CallStep = (open, run) => {
  for (const slot of open) {
    const key = slot.plan.key;
    if (key === undefined || slot.leader) continue;
    const flight = run.flights.joinBounded(key, run.timeoutMs, waitedTooLong);
    if (flight) {
      slot.flight = flight;
    } else slot.leader = run.flights.lead(key);
  }
};
