// How many hedges a group may send: a token bucket filled by ordinary upstream requests. Each
// first attempt (not a hedge) adds `maxExtraPercent / 100` of a token, each hedge takes a whole
// one, so over any stretch of traffic hedges stay at or below that share of the requests, plus a
// small burst (BURST tokens) so a short stall of one node can still be hedged right away. When
// every node is slow at once the bucket runs dry and the proxy stops doubling the load.

/** Hedges that may go out back to back before the share applies. */
export const HEDGE_BURST = 10;

export class HedgeBudget {
  private tokens: number;
  private readonly perRequest: number;
  /** Hedges refused because the bucket was empty (for /admin/status). */
  denied = 0;

  constructor(maxExtraPercent: number, private readonly burst = HEDGE_BURST) {
    this.perRequest = Math.max(0, maxExtraPercent) / 100;
    // Start full: a fresh proxy facing a hung node under load can hedge every client's read that
    // landed on it before passive health took the node out (one per concurrent client or so).
    this.tokens = this.perRequest > 0 ? burst : 0;
  }

  /** An ordinary (non-hedge) upstream request went out. */
  noteRequest(): void {
    this.tokens = Math.min(this.burst, this.tokens + this.perRequest);
  }

  /** Takes one hedge's worth; false when the share is used up. */
  tryTake(): boolean {
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.denied++;
    return false;
  }

  /** A taken token that was not used (no node could take the hedge). */
  giveBack(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  get available(): number {
    return Math.floor(this.tokens * 100) / 100;
  }
}
