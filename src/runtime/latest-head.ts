// Which head a latest read of a route is answered for, with the read-your-writes floor and the
// freshness of the group head applied (see read-floor.ts and head-snapshot.ts):
// - the snapshot follows max(tracked head, floor), and jumps at once when it is below the floor;
// - a head that no poll or answer confirmed for longer than the route's bound is frozen: the read
//   must go to a node (plan-call.ts sends it unpinned and uncached) rather than be served from it;
// - an older snapshot's answer may be served while refreshing only when it is not below the floor
//   nor below the client's X-Min-Ledger-Version: stale-while-revalidate must not undo a write.
import type { RouteRuntime } from './runtime.js';

export interface LatestHead {
  /** The head to key (and pin) the read by; undefined while no head is known. */
  head: bigint | undefined;
  /** The group head with the floor applied (monotonic reads may use it when the snapshot is too old). */
  tracked: bigint | undefined;
  /** True when nothing confirmed the group head recently: do not serve the snapshot. */
  frozen: boolean;
  /** The snapshot before `head`, where the last answer of the read is keyed. */
  previous: bigint | undefined;
  /** May `previous`'s answer be served while the read refreshes? */
  previousServable: boolean;
}

/** `now` is performance.now(). */
export function latestHead(route: RouteRuntime, now: number, minVersion?: bigint): LatestHead {
  const floor = route.group.floor;
  const tracked = floor.head();
  const head = route.snapshot.resolve(tracked, now, floor.value);
  const frozen = head !== undefined && !floor.isFresh(now, route.headFreshForMs);
  const previous = route.snapshot.previous;
  const lowest = max(floor.value, minVersion);
  const previousServable = previous !== undefined && (lowest === undefined || previous >= lowest);
  return { head, tracked, frozen, previous, previousServable };
}

function max(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  return b === undefined || a >= b ? a : b;
}
