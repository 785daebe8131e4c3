// The read-your-writes floor of one upstream group: the highest version/block the proxy has shown
// any client as committed or as the head (a receipt's block, an eth_blockNumber result, a committed
// Aptos transaction's version, a Neo block count). A client that saw block N and then asks for
// "latest" must get an answer for a block ≥ N — deploy → receipt → eth_call must see the contract.
//
// Rules (cache safety and liveness both hang on them):
// - the floor only rises from answers (observe-answers.ts) and from other instances (shared-floor.ts);
// - the head latest reads are keyed by is max(tracked head, floor): a node said so, even if the
//   head poll has not caught up yet; a read pinned to it is sent only to a node known to have it
//   (or the primary as a last resort, which is the node that answered it in the first place);
// - the floor never strands reads on a version no node has: when a poll that started after the
//   floor last rose finds every node in rotation below it (a reorg to a shorter chain, nodes
//   replaced), the floor follows them down to the highest of their heads;
// - the group head is fresh while a poll or an answer confirmed it recently; a head nobody could
//   refresh for longer than the staleness bound + poll interval (+ slack) is not served from.
import { readFloorRaisesTotal } from '../metrics/metrics.js';
import type { UpstreamNode } from '../upstream/node.js';
import type { ReplicaSet } from '../upstream/replica-set.js';

export class ReadFloor {
  private current: bigint | undefined;
  /** Date.now() of the last rise: polls started before it cannot pull the floor down. */
  private raisedAt = 0;
  /** performance.now() of the last poll or answer that confirmed the group head. */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  /** Date.now() at which the last successful head poll of each node was started. */
  private readonly polledAt = new Map<UpstreamNode, number>();
  /** Called on every rise that came from this instance's answers (shared-floor publishes it). */
  onRise: ((version: bigint) => void) | undefined;
  /** Called when the floor passed the tracked head (the head tracker polls at once). */
  onAheadOfNodes: (() => void) | undefined;

  constructor(private readonly set: ReplicaSet) {}

  get value(): bigint | undefined {
    return this.current;
  }

  /** A version shown to a client. True when the floor rose. */
  raise(version: bigint): boolean {
    if (!this.lift(version)) return false;
    readFloorRaisesTotal.inc({ group: this.set.name, source: 'answer' });
    this.onRise?.(version);
    return true;
  }

  /** A version another instance showed its client (no echo back to the fleet). */
  adopt(version: bigint): boolean {
    if (!this.lift(version)) return false;
    readFloorRaisesTotal.inc({ group: this.set.name, source: 'fleet' });
    return true;
  }

  private lift(version: bigint): boolean {
    if (this.current !== undefined && version <= this.current) return false;
    this.current = version;
    this.raisedAt = Date.now();
    const tracked = this.set.head;
    if (tracked === undefined || version > tracked) this.onAheadOfNodes?.();
    return true;
  }

  /** The head latest reads are resolved to: the tracked head, moved up to the floor. */
  head(): bigint | undefined {
    const tracked = this.set.head;
    const floor = this.current;
    if (floor === undefined) return tracked;
    return tracked === undefined || floor > tracked ? floor : tracked;
  }

  /** A poll or an answer confirmed the group head now (performance.now()). */
  confirm(now: number): void {
    this.confirmedAt = now;
  }

  /** Has anything confirmed the head within `boundMs` (the caller adds poll interval and slack)? */
  isFresh(now: number, boundMs: number): boolean {
    return now - this.confirmedAt <= boundMs;
  }

  /**
   * A head poll of `node`, started at `startedAt` (Date.now()), succeeded and set the node's head.
   * Follows the nodes down when every node in rotation was polled since the last rise and all are
   * below the floor.
   */
  polled(node: UpstreamNode, startedAt: number, now: number): void {
    this.polledAt.set(node, startedAt);
    this.confirm(now);
    if (this.current === undefined) return;
    const inRotation = this.set.all.filter((n) => n.healthy);
    let best: bigint | undefined;
    for (const n of inRotation) {
      const at = this.polledAt.get(n);
      if (at === undefined || at < this.raisedAt || n.head === undefined || n.head >= this.current) return;
      if (best === undefined || n.head > best) best = n.head;
    }
    if (best !== undefined) this.current = best;
  }
}
