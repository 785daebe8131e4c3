// A per-node circuit breaker on a rolling window of the last `windowSize` outcomes, kept in a
// fixed ring buffer: recording and reading are O(1), memory is constant, and there are no timers
// (open → half-open is decided lazily from the clock when someone asks), so nothing can leak.
//   closed:    traffic flows; opens when `consecutiveFailures` in a row fail, or when at least
//              `minSamples` outcomes are in the window and their failure rate ≥ `errorRate`.
//   open:      no traffic for `openMs`.
//   half-open: one trial at a time (a request or the head probe); success closes, failure re-opens.
// Slow (an outcome between the two): the node answered, but only after the hedge delay. It counts
// as a failure in the window's rate, never in the consecutive count: a node slow on every read
// leaves the rotation by the rate (errorRate over minSamples), while a burst of late answers that
// the proxy's own pause or a busy machine caused cannot open the breaker by itself.
// Stalled (orthogonal to the state): a request to the node has gone past the hedge delay without
// answer headers. While any is, a closed breaker takes no new requests — otherwise, under load,
// round-robin keeps handing a hung node every other read during the delay, and each one needs a
// hedge. It ends the moment those requests answer or end; it records nothing by itself.

export interface BreakerConfig {
  windowSize: number;
  minSamples: number;
  errorRate: number;
  consecutiveFailures: number;
  openMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export class Breaker {
  private readonly ring: Uint8Array;
  private next = 0;
  private samples = 0;
  private failuresInWindow = 0;
  private consecutive = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private current: BreakerState = 'closed';
  private stalls = 0;

  constructor(private readonly config: BreakerConfig) {
    this.ring = new Uint8Array(Math.max(1, config.windowSize));
  }

  state(now: number): BreakerState {
    if (this.current === 'open' && now - this.openedAt >= this.config.openMs) {
      this.current = 'half-open';
      this.trialInFlight = false;
    }
    return this.current;
  }

  /** May a request be sent now? In half-open, reserves the single trial slot. */
  tryAcquire(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return this.stalls === 0;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  /** Could a request be sent now (no side effect)? */
  isAvailable(now: number): boolean {
    const state = this.state(now);
    return (state === 'closed' && this.stalls === 0) || (state === 'half-open' && !this.trialInFlight);
  }

  /** A request to the node passed the hedge delay without headers (see the header comment). */
  stall(): void {
    this.stalls++;
  }

  /** ... and has now answered or ended. */
  unstall(): void {
    if (this.stalls > 0) this.stalls--;
  }

  get stalled(): boolean {
    return this.stalls > 0;
  }

  /**
   * The request ended without saying anything about the node (aborted because another attempt won
   * while this one was already answering, or the client left): nothing is recorded, but a
   * half-open trial slot it held is freed, or the node would wait for the probe to come back.
   */
  release(now: number): void {
    if (this.state(now) === 'half-open') this.trialInFlight = false;
  }

  /** An active probe got a good answer: close now, whatever the state. */
  closeAfterProbe(now: number): { from: BreakerState; to: BreakerState } | undefined {
    const from = this.state(now);
    if (from === 'closed') return undefined;
    this.trialInFlight = false;
    return this.moveTo('closed', from, now);
  }

  /** Records an outcome; returns the state change it caused, if any. */
  record(ok: boolean, now: number): { from: BreakerState; to: BreakerState } | undefined {
    const from = this.state(now);
    this.push(ok);
    if (from === 'half-open') {
      this.trialInFlight = false;
      return ok ? this.moveTo('closed', from, now) : this.moveTo('open', from, now);
    }
    if (from === 'closed' && !ok && this.shouldOpen()) return this.moveTo('open', from, now);
    return undefined;
  }

  /**
   * A good answer that came after the hedge delay (see the header comment). A half-open trial that
   * is slow re-opens: the node is no faster than when it left.
   */
  recordSlow(now: number): { from: BreakerState; to: BreakerState } | undefined {
    const from = this.state(now);
    // A failure in the window only: the consecutive count neither grows nor resets.
    this.pushToWindow(1);
    if (from === 'half-open') {
      this.trialInFlight = false;
      return this.moveTo('open', from, now);
    }
    if (from === 'closed' && this.rateOpens()) return this.moveTo('open', from, now);
    return undefined;
  }

  /** Failure rate over the window (0 when empty). */
  get failureRate(): number {
    return this.samples === 0 ? 0 : this.failuresInWindow / this.samples;
  }

  get consecutiveFailures(): number {
    return this.consecutive;
  }

  private push(ok: boolean): void {
    this.pushToWindow(ok ? 0 : 1);
    this.consecutive = ok ? 0 : this.consecutive + 1;
  }

  private pushToWindow(failed: 0 | 1): void {
    if (this.samples === this.ring.length) this.failuresInWindow -= this.ring[this.next] ?? 0;
    else this.samples++;
    this.ring[this.next] = failed;
    this.failuresInWindow += failed;
    this.next = (this.next + 1) % this.ring.length;
  }

  private shouldOpen(): boolean {
    return this.consecutive >= this.config.consecutiveFailures || this.rateOpens();
  }

  private rateOpens(): boolean {
    return this.samples >= this.config.minSamples && this.failureRate >= this.config.errorRate;
  }

  private moveTo(to: BreakerState, from: BreakerState, now: number): { from: BreakerState; to: BreakerState } {
    this.current = to;
    if (to === 'open') this.openedAt = now;
    if (to === 'closed') this.resetWindow();
    return { from, to };
  }

  /** A node that recovered starts with a clean slate, so old failures cannot re-open it at once. */
  private resetWindow(): void {
    this.ring.fill(0);
    this.samples = 0;
    this.failuresInWindow = 0;
    this.consecutive = 0;
  }
}
