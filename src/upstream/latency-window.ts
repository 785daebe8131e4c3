// The hedge delay of a group, estimated from how fast its nodes have been sending answer headers:
// a quantile (p95 by default) of the last `size` good answers, kept in a fixed ring (constant
// memory, O(1) to record), bounded to [minMs, maxMs]. Until `minSamples` answers are in, the
// estimate is the upper bound: hedging late costs nothing but tail latency, hedging early doubles
// load on a group the proxy knows nothing about yet.
//
// Only answers that got headers and were judged good are recorded, and an attempt aborted because
// a hedge won never reports, so a hung node cannot drag the estimate up to its timeout.

export interface LatencyWindowOptions {
  size: number;
  minSamples: number;
  quantile: number;
  minMs: number;
  maxMs: number;
}

export class LatencyWindow {
  private readonly ring: Float64Array;
  /** Where the quantile sorts a copy of the ring: no array per estimate. */
  private readonly scratch: Float64Array;
  private next = 0;
  private count = 0;
  /** The last computed estimate and how many records ago: sorting the ring per request is waste. */
  private cached: number | undefined;
  private sinceCompute = 0;

  constructor(private readonly opts: LatencyWindowOptions) {
    this.ring = new Float64Array(Math.max(1, opts.size));
    this.scratch = new Float64Array(this.ring.length);
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.ring.length;
    if (this.count < this.ring.length) this.count++;
    this.sinceCompute++;
  }

  get samples(): number {
    return this.count;
  }

  /** The bounded quantile; recomputed at most every 8 records (a ring of 128 sorts in microseconds). */
  estimate(): number {
    if (this.count < this.opts.minSamples) return this.opts.maxMs;
    if (this.cached === undefined || this.sinceCompute >= 8) {
      this.cached = this.bounded(this.quantile(this.opts.quantile));
      this.sinceCompute = 0;
    }
    return this.cached;
  }

  /** The raw quantile of what is in the window (undefined when empty). */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    // A typed array sorts numerically without a comparator; the ring holds no NaN (record() refuses it).
    const sorted = this.scratch.subarray(0, this.count);
    sorted.set(this.ring.subarray(0, this.count));
    sorted.sort();
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[index];
  }

  private bounded(ms: number | undefined): number {
    if (ms === undefined) return this.opts.maxMs;
    return Math.min(this.opts.maxMs, Math.max(this.opts.minMs, Math.round(ms)));
  }
}
