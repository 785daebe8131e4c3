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
// Each attempt has its own AbortController chained to the request's signal. A loser is aborted
// with a `LostRace` reason that says whether it was *slow*: no headers yet although it started no
// later than the winner. The attempt function reads that reason to tell passive health (a slow
// loser counts against its node; a loser that was merely second is not the node's fault).
import type { HedgeBudget } from './hedge-budget.js';

export class LostRace extends Error {
  constructor(readonly slow: boolean) {
    super(slow ? 'lost to a hedge without sending headers' : 'another attempt answered first');
    this.name = 'LostRace';
  }
}

export type Attempt<N, R> = (node: N, signal: AbortSignal, onHeaders: () => void) => Promise<R>;

export interface RaceOptions<N, R> {
  first: N;
  attempt: Attempt<N, R>;
  /** Ends the race: take it. Anything else is a failure another node might not have. */
  isFinal(result: R): boolean;
  /** Hedge delay; undefined = no hedge (writes, session-bound calls, hedging off). */
  delayMs: number | undefined;
  budget?: HedgeBudget;
  /** A node that can serve this read and has not been tried; undefined when there is none. */
  pickHedge(): N | undefined;
  /** The request's own signal (client gone, request deadline). */
  signal?: AbortSignal;
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

interface Running<N> {
  node: N;
  ctl: AbortController;
  startedAt: number;
  headers: boolean;
  /** Started after the first: a hedge, or a failover off a given-up node. */
  hedge: boolean;
  failover: boolean;
  stalled: boolean;
  unchain(): void;
}

export function hedgedRace<N, R>(o: RaceOptions<N, R>): Promise<RaceResult<N, R>> {
  return new Promise((resolve, reject) => {
    const running: Array<Running<N>> = [];
    let done = false;
    let hedged = false;
    let timer: NodeJS.Timeout | undefined;

    const finish = (winner: Running<N> | undefined) => {
      done = true;
      if (timer) clearTimeout(timer);
      for (const r of running) {
        if (r === winner) continue;
        r.ctl.abort(new LostRace(!r.headers && (winner === undefined || r.startedAt <= winner.startedAt)));
      }
    };

    const endStall = (r: Running<N>) => {
      if (!r.stalled) return;
      r.stalled = false;
      o.onStallEnd?.(r.node);
    };

    const settle = (r: Running<N>, ok: boolean, value: unknown) => {
      r.unchain();
      endStall(r);
      running.splice(running.indexOf(r), 1);
      if (done) return;
      if (ok && o.isFinal(value as R)) {
        finish(r);
        resolve({ result: value as R, node: r.node, hedged, hedgeWon: r.hedge && !r.failover });
      } else if (running.length === 0) {
        finish(undefined);
        if (ok) resolve({ result: value as R, node: r.node, hedged, hedgeWon: false });
        else reject(value);
      }
    };

    const launch = (node: N, hedge: boolean, failover = false): Running<N> => {
      const ctl = new AbortController();
      const r: Running<N> = { node, ctl, startedAt: performance.now(), headers: false, hedge, failover, stalled: false, unchain: chain(o.signal, ctl) };
      running.push(r);
      if (!hedge) o.budget?.noteRequest();
      const onHeaders = () => {
        r.headers = true;
        endStall(r);
      };
      o.attempt(node, ctl.signal, onHeaders).then(
        (value) => settle(r, true, value),
        (err: unknown) => settle(r, false, err),
      );
      return r;
    };

    const first = launch(o.first, false);
    const delayMs = o.delayMs;
    if (delayMs === undefined) return;
    const waiting = () => !done && !first.headers && running.length === 1 && o.signal?.aborted !== true;

    const failoverIfGivenUp = () => {
      if (!waiting()) return;
      if (o.givenUp?.(first.node) !== true) {
        timer = setTimeout(failoverIfGivenUp, delayMs);
        return;
      }
      const node = o.pickHedge();
      if (node === undefined) return;
      o.onFailover?.(node);
      launch(node, true, true);
    };

    timer = setTimeout(() => {
      if (!waiting()) return;
      first.stalled = true;
      o.onStall?.(first.node);
      if (o.budget && !o.budget.tryTake()) {
        failoverIfGivenUp();
        return;
      }
      const node = o.pickHedge();
      if (node === undefined) {
        o.budget?.giveBack();
        return;
      }
      hedged = true;
      o.onHedge?.(node);
      launch(node, true);
    }, delayMs);
  });
}

/** The attempt is aborted when the request is; returns the unsubscribe (no listener outlives the attempt). */
function chain(parent: AbortSignal | undefined, ctl: AbortController): () => void {
  if (!parent) return () => {};
  if (parent.aborted) {
    ctl.abort(parent.reason);
    return () => {};
  }
  const onAbort = () => ctl.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return () => parent.removeEventListener('abort', onAbort);
}
