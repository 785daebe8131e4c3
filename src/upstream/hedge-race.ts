// The hedging core, independent of what an attempt is: it wraps any "one attempt on one node"
// function `(node, signal, onHeaders) => Promise<Result>` (a buffered parsed read, a pass-through
// GET before its first byte reaches the client). The first attempt starts at once; when it has
// not reported headers after `delayMs`, and the budget allows, one more attempt goes to the node
// `pickHedge()` names. The first final result (a judged-good answer, or a failure another node
// would only repeat) wins and every other attempt is aborted. A non-final result (a failure
// another node may not have) waits for the attempt still running; when none is left the race
// ends with it, and the caller's retry loop decides what comes next.
//
// When the budget refuses the hedge, the race keeps looking, every delay, whether passive health
// has meanwhile given up on the first node (`givenUp`: its breaker opened because other requests
// lost to hedges): then the read goes elsewhere at once, as a failover outside the budget — under
// load many reads land on a hung node within one delay, more than the budget's burst, and they
// should not all wait for the headers timeout of a node already known dead.
//
// Each attempt has its own Cancellation (cancel.ts), cancelled with the call's own when that one
// is (the race is the call's listener while it runs). A loser is cancelled with a `LostRace`
// reason that says whether it was *slow*: no headers yet although it started no later than the
// winner. The attempt function reads that reason to tell passive health (a slow loser counts
// against its node; a loser that was merely second is not the node's fault).
// A race is one object (its attempts one each, their timers given the race as argument): callers
// run it only when a hedge can go out at all; a call that can never hedge makes its one attempt
// directly (failover.ts).
import { Cancellation, type CancelListener } from './cancel.js';
import type { HedgeBudget } from './hedge-budget.js';

export class LostRace extends Error {
  constructor(readonly slow: boolean) {
    super(slow ? 'lost to a hedge without sending headers' : 'another attempt answered first');
    this.name = 'LostRace';
  }
}

export type Attempt<N, R> = (node: N, cancel: Cancellation, onHeaders: () => void) => Promise<R>;

export interface RaceOptions<N, R> {
  first: N;
  attempt: Attempt<N, R>;
  /** Ends the race: take it. Anything else is a failure another node might not have. */
  isFinal(result: R): boolean;
  /** Hedge delay; undefined = no hedge (writes, session-bound calls, hedging off). */
  delayMs: number | undefined;
  budget?: HedgeBudget | undefined;
  /** A node that can serve this read and has not been tried; undefined when there is none. */
  pickHedge(): N | undefined;
  /** The call's own cancellation (client gone, request deadline). */
  cancel?: Cancellation | undefined;
  /** A hedge went out (metrics). */
  onHedge?(node: N): void;
  /**
   * The first attempt passed the delay without headers (whether or not a hedge could go out), and,
   * later, that it answered or ended: passive health stops sending the node new work meanwhile.
   */
  onStall?(node: N): void;
  onStallEnd?(node: N): void;
  /** Passive health has taken this node out of rotation (see the header comment). */
  givenUp?(node: N): boolean;
  /** A read left a given-up node while waiting on it (counted as a retry, not a hedge). */
  onFailover?(node: N): void;
}

export interface RaceResult<N, R> {
  result: R;
  node: N;
  /** A hedge was sent during this race. */
  hedged: boolean;
  /** The hedge's answer was taken. */
  hedgeWon: boolean;
}

/** One attempt of a race: its own cancellation, and what the race knows about it. */
class Running<N> extends Cancellation {
  readonly startedAt = performance.now();
  headers = false;
  stalled = false;

  constructor(
    readonly node: N,
    /** Started after the first: a hedge, or a failover off a given-up node. */
    readonly hedge: boolean,
    readonly failover: boolean,
  ) {
    super();
  }
}

export function hedgedRace<N, R>(o: RaceOptions<N, R>): Promise<RaceResult<N, R>> {
  return new Promise((resolve, reject) => new Race(o, resolve, reject).start());
}

class Race<N, R> implements CancelListener {
  private readonly running: Array<Running<N>> = [];
  private done = false;
  private hedged = false;
  private timer: NodeJS.Timeout | undefined;
  private first!: Running<N>;

  constructor(
    readonly o: RaceOptions<N, R>,
    private readonly resolve: (r: RaceResult<N, R>) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(): void {
    const parent = this.o.cancel;
    if (parent && !parent.aborted) parent.listen(this);
    this.first = this.launch(this.o.first, false);
    const delayMs = this.o.delayMs;
    if (delayMs === undefined) return;
    this.timer = setTimeout(onDelay, delayMs, this, delayMs);
  }

  /** The call was cancelled: so is every attempt still running. */
  cancelled(reason: unknown): void {
    for (const r of this.running) r.abort(reason);
  }

  launch(node: N, hedge: boolean, failover = false): Running<N> {
    const r = new Running(node, hedge, failover);
    const parent = this.o.cancel;
    if (parent?.aborted) r.abort(parent.reason);
    this.running.push(r);
    if (!hedge) this.o.budget?.noteRequest();
    this.o.attempt(node, r, () => this.headersIn(r)).then(
      (value) => this.settle(r, true, value),
      (err: unknown) => this.settle(r, false, err),
    );
    return r;
  }

  /** Still waiting on the first attempt alone, without headers, and not cancelled. */
  waiting(): boolean {
    return !this.done && !this.first.headers && this.running.length === 1 && this.o.cancel?.aborted !== true;
  }

  /** The delay passed without headers: a hedge if the budget allows, else watch for a given-up node. */
  stallFirst(delayMs: number): void {
    const { o, first } = this;
    first.stalled = true;
    o.onStall?.(first.node);
    if (o.budget && !o.budget.tryTake()) {
      this.failoverIfGivenUp(delayMs);
      return;
    }
    const node = o.pickHedge();
    if (node === undefined) {
      o.budget?.giveBack();
      return;
    }
    this.hedged = true;
    o.onHedge?.(node);
    this.launch(node, true);
  }

  failoverIfGivenUp(delayMs: number): void {
    if (!this.waiting()) return;
    if (this.o.givenUp?.(this.first.node) !== true) {
      this.timer = setTimeout(onRecheck, delayMs, this, delayMs);
      return;
    }
    const node = this.o.pickHedge();
    if (node === undefined) return;
    this.o.onFailover?.(node);
    this.launch(node, true, true);
  }

  private headersIn(r: Running<N>): void {
    r.headers = true;
    this.endStall(r);
  }

  private endStall(r: Running<N>): void {
    if (!r.stalled) return;
    r.stalled = false;
    this.o.onStallEnd?.(r.node);
  }

  private settle(r: Running<N>, ok: boolean, value: unknown): void {
    this.endStall(r);
    this.running.splice(this.running.indexOf(r), 1);
    if (this.done) return;
    if (ok && this.o.isFinal(value as R)) {
      this.finish(r);
      this.resolve({ result: value as R, node: r.node, hedged: this.hedged, hedgeWon: r.hedge && !r.failover });
    } else if (this.running.length === 0) {
      this.finish(undefined);
      if (ok) this.resolve({ result: value as R, node: r.node, hedged: this.hedged, hedgeWon: false });
      else this.reject(value);
    }
  }

  private finish(winner: Running<N> | undefined): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.o.cancel?.unlisten(this);
    for (const r of this.running) {
      if (r === winner) continue;
      r.abort(new LostRace(!r.headers && (winner === undefined || r.startedAt <= winner.startedAt)));
    }
  }
}

function onDelay<N, R>(race: Race<N, R>, delayMs: number): void {
  if (race.waiting()) race.stallFirst(delayMs);
}

function onRecheck<N, R>(race: Race<N, R>, delayMs: number): void {
  race.failoverIfGivenUp(delayMs);
}
