// Sends one upstream request for a group: picks a node, and for an idempotent read that failed in
// a way another node may not (connection error, timeout, 502/503/504) tries one more node after a
// jittered backoff. Writes are sent once, to the primary, whatever happens: a write that timed out
// may have been applied, and repeating it elsewhere could apply it twice.
// Each try of a read is a hedged race (hedge-race.ts): no headers after the group's hedge delay,
// and the same read also goes to another node that can serve it; the first good answer wins. A try
// that can never hedge (hedging off, a write, a session-bound or strong read, a group of one node)
// is its one attempt, made directly: no race, no timer, no second cancellation.
// The request deadline is a DeadlineCancellation (deadlines.ts) for the whole call, created here
// and dropped when the call ends; a try without a race hands it to its attempt as it is.
import type { TimeoutClass, UpstreamPayload } from '../dialects/types.js';
import { ProxyError, UpstreamBadResponseError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js';
import { upstreamErrorsTotal, upstreamRetriesTotal } from '../metrics/metrics.js';
import type { CancelListener, Cancellation } from './cancel.js';
import { timeoutsFor, type CallTimeouts } from './call-timeouts.js';
import { sendToNode, type ForwardInfo, type UpstreamAnswer } from './client.js';
import { cancelAtDeadline, clearDeadline, type DeadlineCancellation } from './deadlines.js';
import { groupHedgeOf, type GroupHedge } from './hedge.js';
import { hedgedRace, LostRace } from './hedge-race.js';
import { answeredLate, isNodeFailureStatus, recordFailure, recordNeutral, recordSlow, recordSuccess } from './health.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet, SelectOptions } from './replica-set.js';

export interface UpstreamCall {
  payload: UpstreamPayload;
  write: boolean;
  strong?: boolean;
  pin?: bigint;
  /** Only a node whose head is at least this (see SelectOptions.minHead). */
  minHead?: bigint | undefined;
  /** Pins of the calls in the request, in order (JSON-RPC batches); default [pin]. */
  pins?: ReadonlyArray<bigint | undefined>;
  /** This node and no other (node-local session state): sent once, never retried elsewhere. */
  node?: UpstreamNode;
  /** Which upstream timeouts apply (timeouts.byClass); unset: normal. */
  timeoutClass?: TimeoutClass;
}

interface AttemptOutcome {
  result: UpstreamAnswer | ProxyError;
  retry: boolean;
}

/**
 * ok: take it. bad: garbage where the API promises JSON — the node is failing (counted against it)
 * and another node is asked. lacks-version: the node answered well but does not have the version
 * the read is pinned to (it fell behind, or pruned it) — another node is asked, the node is fine.
 */
export type AnswerVerdict = 'ok' | 'bad' | 'lacks-version';

/** What every try and attempt of one call shares: one object, instead of closures per attempt. */
interface GroupCall {
  readonly set: ReplicaSet;
  readonly call: UpstreamCall;
  readonly fwd: ForwardInfo;
  /** The request deadline's cancellation; undefined: none (tests, callers without a deadline). */
  readonly cancel: Cancellation | undefined;
  /** The group's hedging state when this call is hedged at all. */
  readonly hedge: GroupHedge | undefined;
  readonly timeouts: CallTimeouts;
  /** Nodes asked so far; made only when a second node could be asked (a hedge or a retry). */
  tried: Set<UpstreamNode> | undefined;
}

/** `deadline`: performance.now() time by which the request must be answered (RequestContext.deadline). */
export function callGroup(set: ReplicaSet, call: UpstreamCall, fwd: ForwardInfo, deadline?: number): Promise<UpstreamAnswer> {
  const cancel = deadline === undefined ? undefined : cancelAtDeadline(deadline);
  try {
    const gc: GroupCall = { set, call, fwd, cancel, hedge: hedgeFor(set, call), timeouts: timeoutsFor(set.config.timeouts, call.timeoutClass), tried: undefined };
    return tryNodes(gc, cancel);
  } catch (err) {
    // As the async function it was: a failure is a rejection, never a throw into the caller.
    if (cancel) clearDeadline(cancel);
    return Promise.reject(err);
  }
}

/**
 * The tries of one call, in turn; the call's deadline is dropped when they are over. callGroup
 * itself is not async: one suspended frame per call while the node answers, not two.
 */
async function tryNodes(gc: GroupCall, deadline: DeadlineCancellation | undefined): Promise<UpstreamAnswer> {
  const { set, call } = gc;
  const maxTries = triesFor(set, call);
  const racing = gc.hedge !== undefined && hedgeCanGoOut(set, call);
  const select: SelectOptions = { write: call.write, strong: call.strong, pin: call.pin, minHead: call.minHead };
  let last: UpstreamAnswer | ProxyError | undefined;
  try {
    for (let attempt = 0; attempt < maxTries; attempt++) {
      const node = call.node ?? set.select(select);
      if (!node) break;
      if (attempt > 0) {
        upstreamRetriesTotal.inc({ group: set.name });
        await sleep(backoffMs(set, attempt), gc.cancel);
      }
      if (racing || attempt + 1 < maxTries) {
        gc.tried ??= new Set();
        gc.tried.add(node);
        select.exclude = gc.tried;
      }
      const outcome = racing ? await raceOnce(gc, node) : await soleAttempt(gc, node);
      last = outcome.result;
      if (!outcome.retry) break;
    }
  } finally {
    if (deadline) clearDeadline(deadline);
  }
  if (last === undefined) throw new UpstreamUnavailableError(`no node of group ${set.name} can take this request`);
  if (last instanceof ProxyError) throw last;
  return last;
}

/**
 * How many tries a call may get. Each try goes to a node not tried before (selection excludes
 * them), so a strong read (the primary only) and a group of one node get one whatever
 * retry.attempts says: a second selection would find no node.
 */
function triesFor(set: ReplicaSet, call: UpstreamCall): number {
  if (call.write || call.node || call.strong) return 1;
  return Math.min(1 + set.config.retry.attempts, set.all.length);
}

/** Hedging applies to idempotent reads that any node may serve, when the group has it on. */
function hedgeFor(set: ReplicaSet, call: UpstreamCall): GroupHedge | undefined {
  if (call.write || call.node !== undefined || !set.config.hedge.enabled) return undefined;
  return groupHedgeOf(set);
}

/**
 * Whether a hedge could ever go out for this read: not when the only node it may go to is the one
 * it starts on — a strong read (the primary; pickHedgeNode excludes it as tried) or a group of one
 * node. There the race would only report the stall of the primary, which changes no selection
 * (a stalled primary is still the first fallback, replica-set.ts), and give back the token it took.
 */
function hedgeCanGoOut(set: ReplicaSet, call: UpstreamCall): boolean {
  return call.strong !== true && set.all.length > 1;
}

/** A try that cannot hedge: its one attempt, on the call's own cancellation. */
function soleAttempt(gc: GroupCall, node: UpstreamNode): Promise<AttemptOutcome> {
  // The token a first attempt adds to the hedge budget, as in a race (other reads hedge on it).
  gc.hedge?.budget.noteRequest();
  return attemptOnce(gc, node, gc.cancel, undefined);
}

/** One try as a hedged race; nodes the hedge went to join `tried`, so a retry goes elsewhere again. */
async function raceOnce(gc: GroupCall, node: UpstreamNode): Promise<AttemptOutcome> {
  const hedge = gc.hedge as GroupHedge;
  // One reading of the delay for the race and for judging its answers late.
  const delayMs = hedge.delayMs();
  const race = await hedgedRace<UpstreamNode, AttemptOutcome>({
    first: node,
    attempt: (n, cancel, onHeaders) => attemptOnce(gc, n, cancel, onHeaders, delayMs),
    isFinal,
    delayMs,
    budget: hedge.budget,
    pickHedge: () => pickHedgeNode(gc.set, gc.call, gc.tried as Set<UpstreamNode>),
    cancel: gc.cancel,
    onHedge: () => hedge.noteHedge(),
    onStall,
    onStallEnd,
    givenUp,
    onFailover: () => upstreamRetriesTotal.inc({ group: gc.set.name }),
  });
  if (race.hedgeWon) hedge.noteWin();
  return race.result;
}

const isFinal = (o: AttemptOutcome): boolean => !o.retry;
const onStall = (n: UpstreamNode): void => n.breaker.stall();
const onStallEnd = (n: UpstreamNode): void => n.breaker.unstall();
const givenUp = (n: UpstreamNode): boolean => !n.healthy;

/**
 * The node a hedge goes to: chosen by the same selection as any read (strong → primary only, pin,
 * lag), and, because selection falls back to "any node" when nothing is in rotation, checked
 * again: a hedge only goes to a node in rotation that holds the pinned version.
 */
function pickHedgeNode(set: ReplicaSet, call: UpstreamCall, tried: Set<UpstreamNode>): UpstreamNode | undefined {
  const node = set.select({ write: false, strong: call.strong, pin: call.pin, exclude: tried });
  if (!node) return undefined;
  const fits = node.healthy && set.isCurrent(node) && (call.pin === undefined || node.hasVersion(call.pin));
  if (!fits) {
    node.breaker.release(Date.now());
    return undefined;
  }
  tried.add(node);
  return node;
}

/**
 * `slowAfter`: in a hedged race, the delay after which a good answer counts as slow for the node
 * (health.ts recordSlow); a sole attempt has no other node to prefer and judges no answer late.
 */
async function attemptOnce(
  gc: GroupCall,
  node: UpstreamNode,
  cancel: Cancellation | undefined,
  onHeaders: (() => void) | undefined,
  slowAfter?: number,
): Promise<AttemptOutcome> {
  const { set, call } = gc;
  const now = Date.now();
  let answer: UpstreamAnswer;
  try {
    answer = await sendToNode(node, call.payload, gc.fwd, { extraHeaders: set.config.headers, maxResponseBytes: set.config.maxResponseBytes, cancel, timeouts: gc.timeouts, onHeaders });
  } catch (err) {
    const proxyErr = err as ProxyError;
    if (cancel?.aborted) return abortedAttempt(node, now, proxyErr, cancel.reason);
    // A response too large is the request's property, not the node's fault: the node did answer
    // (which also frees a half-open breaker's trial slot).
    if (proxyErr.retryable) recordFailure(node, now, proxyErr);
    else recordSuccess(node, now);
    return { result: proxyErr, retry: proxyErr.retryable };
  }
  learnHead(set, node, answer);
  const verdict = isNodeFailureStatus(answer.status) ? 'failed' : judge(set, call, answer);
  if (verdict === 'lacks-version') believeLowerHead(set, node, answer);
  if (verdict === 'failed') recordFailure(node, now, answer.status);
  else if (verdict === 'bad') {
    const bad = new UpstreamBadResponseError(`node ${node.name} of ${set.name} sent an answer that is not what its API promises`);
    recordFailure(node, now, bad);
    upstreamErrorsTotal.inc({ group: node.group, node: node.name, code: bad.code });
    return { result: bad, retry: true };
  } else {
    const headersMs = answer.headersMs;
    if (answeredLate(node, set.all, headersMs, slowAfter)) recordSlow(node, now, headersMs ?? 0);
    else recordSuccess(node, now);
    if (verdict === 'ok' && headersMs !== undefined) gc.hedge?.noteAnswer(headersMs);
  }
  return { result: answer, retry: verdict === 'failed' || verdict === 'lacks-version' || prunedPin(set, answer, call) };
}

/**
 * An attempt the proxy aborted. Lost to a hedge without having sent headers, although it started
 * first: the node is slow or hung, and that counts against it like a timeout — but after the
 * hedge delay, not after headersMs, so a hung node leaves the rotation within a few delays. Any
 * other abort (it was the hedge and came second, it was already answering, the client left) says
 * nothing about the node.
 */
function abortedAttempt(node: UpstreamNode, now: number, err: ProxyError, reason: unknown): AttemptOutcome {
  if (reason instanceof LostRace && reason.slow) {
    recordFailure(node, now, new UpstreamTimeoutError(`node ${node.name} of ${node.group} sent no headers before a hedge answered`));
  } else recordNeutral(node, now);
  return { result: err, retry: false };
}

function judge(set: ReplicaSet, call: UpstreamCall, answer: UpstreamAnswer): AnswerVerdict {
  return set.dialect.judge({ status: answer.status, headers: answer.headers, body: answer.body }, call.pins ?? [call.pin], call.payload);
}

/** A node that says it is below the pin is believed at once, so selection skips it from now on. */
function believeLowerHead(set: ReplicaSet, node: UpstreamNode, answer: UpstreamAnswer): void {
  const head = set.dialect.nodeFacts(answer.headers).head;
  if (head !== undefined && (node.head === undefined || head < node.head)) node.setPolledHead(head, Date.now());
}

/** The dialect says this node pruned the pinned version (learnHead noted its oldest); another may have it. */
function prunedPin(set: ReplicaSet, answer: UpstreamAnswer, call: UpstreamCall): boolean {
  return call.pin !== undefined && set.dialect.prunedStatus(answer.status);
}


function learnHead(set: ReplicaSet, node: UpstreamNode, answer: UpstreamAnswer): void {
  const { head, oldest } = set.dialect.nodeFacts(answer.headers);
  if (head === undefined) return;
  node.noteHead(head, Date.now());
  if (oldest !== undefined) node.oldest = oldest;
}

function backoffMs(set: ReplicaSet, attempt: number): number {
  const { baseDelayMs, maxDelayMs } = set.config.retry;
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** The backoff before a retry; the call's cancellation (the deadline) cuts it short. */
function sleep(ms: number, cancel: Cancellation | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const wake: CancelListener = {
      cancelled() {
        clearTimeout(timer);
        resolve();
      },
    };
    const timer = setTimeout(() => {
      cancel?.unlisten(wake);
      resolve();
    }, ms);
    // One already cancelled never wakes it (as an AbortSignal listener added after the abort):
    // the retry then fails at once on the cancelled call.
    if (cancel && !cancel.aborted) cancel.listen(wake);
  });
}
