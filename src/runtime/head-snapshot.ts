// How stale a "latest" answer may be. Unpinned reads are keyed (and, where the dialect can, sent)
// pinned to a snapshot of the group head. The snapshot follows the tracked head only when it has
// fallen more than `versions` behind it or is older than `ms`: between those moves every latest
// read of a route shares one key, which is what makes them cacheable at all on a chain whose head
// moves many times a second. With versions 0 and ms 0 the snapshot is always the current head.
// A snapshot below the read-your-writes floor is never kept: it follows at once (read-floor.ts).
export interface StalenessBound {
  versions?: number | undefined;
  ms: number;
}

export class HeadSnapshot {
  private version: bigint | undefined;
  private takenAt = 0;
  /** The snapshot before the current one: where the last answer of a latest read is keyed. */
  previous: bigint | undefined;

  constructor(private readonly bound: StalenessBound) {}

  /** The head to key a latest read by, or undefined while no head is known yet. `now` is a monotonic clock (performance.now()), so a wall-clock step cannot stretch the bound. */
  resolve(trackedHead: bigint | undefined, now: number, floor?: bigint): bigint | undefined {
    if (trackedHead === undefined) return this.version;
    if (this.version === undefined || this.isTooOld(trackedHead, now, floor)) this.move(trackedHead, now);
    return this.version;
  }

  private move(trackedHead: bigint, now: number): void {
    const from = this.version;
    if (from !== undefined && trackedHead < from) {
      // Going back (reorg, the node that was ahead left): the abandoned higher head is no
      // "previous" answer to fall back on, and neither is anything above the new head.
      if (this.previous !== undefined && this.previous >= trackedHead) this.previous = undefined;
    } else if (from !== trackedHead) {
      this.previous = from;
    }
    this.version = trackedHead;
    this.takenAt = now;
  }

  private isTooOld(trackedHead: bigint, now: number, floor: bigint | undefined): boolean {
    if (this.version === undefined) return true;
    if (floor !== undefined && this.version < floor) return true;
    // The tracked head went back (the node that was ahead left the rotation): follow it, so latest
    // reads stay pinned to a version that a node in rotation has.
    if (trackedHead < this.version) return true;
    if (now - this.takenAt >= this.bound.ms) return true;
    const versions = this.bound.versions;
    return versions !== undefined && trackedHead - this.version > BigInt(versions);
  }
}
