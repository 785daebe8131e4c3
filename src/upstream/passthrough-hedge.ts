// Hedged pass-through reads (issue 13): a GET/HEAD/OPTIONS whose body can be sent again runs as a
// hedgedRace (hedge-race.ts) of relay attempts, with the group's delay, budget, metrics and
// passive-health rules of the parsed path. What is special here is that an attempt does not
// return a buffered answer: it streams into the client's response. So the client's sink is
// *claimed*: the first attempt whose answer headers arrive takes it (the race ends at that moment
// and the other attempt is aborted), every later one is refused before it writes anything. A
// gateway status (502/503/504) does not claim the sink while a rival attempt is still running —
// the rival may have a real answer; with no rival it is relayed as the node sent it.
import type { ServerResponse } from 'node:http';
import { UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js';
import { Cancellation } from './cancel.js';
import { upstreamRetriesTotal } from '../metrics/metrics.js';
import { isNodeFailureStatus, recordFailure, recordNeutral } from './health.js';
import { groupHedgeOf, type GroupHedge } from './hedge.js';
import { hedgedRace, LostRace } from './hedge-race.js';
import type { UpstreamNode } from './node.js';
import { relayOnce, type RelayOutcome, type RelayRequest, type RelaySink } from './passthrough-http.js';
import type { ReplicaSet } from './replica-set.js';

/**
 * The client's sink, shared by the attempts of one race. `forAttempt` gives each attempt its own
 * view; only the view that claimed may write. Nothing reaches the real sink before a claim.
 */
export class ClaimableSink {
  private claimedBy: object | undefined;

  constructor(private readonly real: RelaySink) {}

  get claimed(): boolean {
    return this.claimedBy !== undefined;
  }

  /**
   * `hasRival()`: another attempt of the race is still running (then a gateway status is declined).
   * `onClaim` runs once this view took the sink, before the answer's headers are written.
   */
  forAttempt(hasRival: () => boolean, onClaim: () => void): RelaySink {
    const me = {};
    const real = this.real;
    return {
      start: (status, headers, parsed) => {
        if (this.claimedBy !== undefined) return false;
        if (isNodeFailureStatus(status) && hasRival()) return false;
        this.claimedBy = me;
        onClaim();
        return real.start(status, headers, parsed);
      },
      write: (chunk) => real.write(chunk),
      onDrain: (resume) => real.onDrain(resume),
      end: () => real.end(),
      onGone: (abort) => real.onGone(abort),
    };
  }
}

/** An attempt either claimed the client (its relay goes on) or ended without it. */
type PassAttempt = { claimed: true; done: Promise<RelayOutcome> } | { claimed: false; outcome: RelayOutcome };

/** The group's hedging state when this pass-through request may be hedged. */
export function passHedgeFor(set: ReplicaSet, replayableRead: boolean): GroupHedge | undefined {
  return replayableRead && set.config.hedge.enabled ? groupHedgeOf(set) : undefined;
}

/**
 * One try of a hedgeable pass-through read, starting on `first`; nodes a hedge went to join
 * `tried`. Resolves with the outcome of the attempt that claimed the client (after its relay
 * ended), or of the last attempt when none did.
 */
export async function hedgedRelay(
  set: ReplicaSet,
  first: UpstreamNode,
  rr: RelayRequest,
  res: ServerResponse,
  sink: RelaySink,
  o: { hedge: GroupHedge; strong: boolean; tried: Set<UpstreamNode> },
): Promise<RelayOutcome> {
  const claims = new ClaimableSink(sink);
  let live = 0;
  const gone = new Cancellation();
  // 'close' also follows a finished answer, possibly before the race has seen its winner's claim
  // (a small answer is relayed whole in one parser callback): only an unfinished one means gone.
  const onClose = () => {
    if (!res.writableFinished) gone.abort(new Error('client went away'));
  };
  res.once('close', onClose);
  try {
    const race = await hedgedRace<UpstreamNode, PassAttempt>({
      first,
      attempt: (node, signal, onHeaders) => {
        live++;
        return attemptOn(set, node, rr, claims, signal, { onHeaders, hasRival: () => live > 1, ended: () => live--, hedge: o.hedge });
      },
      isFinal: (a) => a.claimed || (a.outcome.error !== undefined && !a.outcome.error.retryable),
      delayMs: o.hedge.delayMs(),
      budget: o.hedge.budget,
      pickHedge: () => pickHedgeNode(set, o.strong, o.tried),
      cancel: gone,
      onHedge: () => o.hedge.noteHedge(),
      onStall: (n) => n.breaker.stall(),
      onStallEnd: (n) => n.breaker.unstall(),
      givenUp: (n) => !n.healthy,
      onFailover: () => upstreamRetriesTotal.inc({ group: set.name }),
    });
    if (race.hedgeWon) o.hedge.noteWin();
    if (race.result.claimed) return await race.result.done;
    return declinedAsError(race.result.outcome);
  } finally {
    res.off('close', onClose);
  }
}

interface AttemptHooks {
  onHeaders(): void;
  hasRival(): boolean;
  /** The attempt no longer competes (its relay ended without the claim, or it claimed). */
  ended(): void;
  hedge: GroupHedge;
}

function attemptOn(set: ReplicaSet, node: UpstreamNode, rr: RelayRequest, claims: ClaimableSink, signal: Cancellation, h: AttemptHooks): Promise<PassAttempt> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    let done: Promise<RelayOutcome> | undefined;
    let claimed = false;
    const view = claims.forAttempt(h.hasRival, () => {
      claimed = true;
      h.hedge.noteAnswer(performance.now() - startedAt);
      h.onHeaders();
      h.ended();
      // `done` is assigned below before undici can report headers (dispatch is asynchronous).
      resolve({ claimed: true, done: done as Promise<RelayOutcome> });
    });
    done = relayOnce(set, node, rr, view, signal);
    void done.then((outcome) => {
      if (claimed) return;
      h.ended();
      if (outcome.status > 0) h.onHeaders();
      if (outcome.error && signal.aborted) noteAborted(node, signal.reason);
      resolve({ claimed: false, outcome });
    });
  });
}

/**
 * An attempt the race aborted: lost to a hedge without having sent headers although it started
 * first — the node is slow or hung, and that counts against it like a timeout, after the hedge
 * delay instead of the headers timeout (as on the parsed path, failover.ts). Any other abort says
 * nothing about the node.
 */
function noteAborted(node: UpstreamNode, reason: unknown): void {
  const now = Date.now();
  if (reason instanceof LostRace && reason.slow) {
    recordFailure(node, now, new UpstreamTimeoutError(`node ${node.name} of ${node.group} sent no headers before a hedge answered`));
  } else recordNeutral(node, now);
}

/** A gateway status declined in favour of a rival that then failed too: an error the retry loop reads. */
function declinedAsError(outcome: RelayOutcome): RelayOutcome {
  if (outcome.error || outcome.started) return outcome;
  return { ...outcome, error: new UpstreamUnavailableError(`node ${outcome.node.name} answered ${outcome.status}`) };
}

/**
 * The node a hedge goes to: the same selection as any read of this request (strong → primary
 * only), and, because selection falls back to "any node" when nothing is in rotation, checked
 * again: a hedge only goes to a node in rotation. (Pass-through reads carry no pin.)
 */
function pickHedgeNode(set: ReplicaSet, strong: boolean, tried: Set<UpstreamNode>): UpstreamNode | undefined {
  const node = set.select({ write: false, strong, exclude: tried });
  if (!node) return undefined;
  if (!node.healthy || !set.isCurrent(node)) {
    node.breaker.release(Date.now());
    return undefined;
  }
  tried.add(node);
  return node;
}
