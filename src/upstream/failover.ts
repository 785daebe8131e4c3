// Sends one upstream request for a group: picks a node, and for an idempotent read that failed in
// a way another node may not (connection error, timeout, 502/503/504) tries one more node after a
// jittered backoff. Writes are sent once, to the primary, whatever happens: a write that timed out
// may have been applied, and repeating it elsewhere could apply it twice.
// Each try of a read is a hedged race (hedge-race.ts): no headers after the group's hedge delay,
// and the same read also goes to another node that can serve it; the first good answer wins.
import type { TimeoutClass, UpstreamPayload } from '../dialects/types.js';
import { ProxyError, UpstreamBadResponseError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js';
import { upstreamErrorsTotal, upstreamRetriesTotal } from '../metrics/metrics.js';
import { timeoutsFor } from './call-timeouts.js';
import { sendToNode, type ForwardInfo, type UpstreamAnswer } from './client.js';
import { groupHedgeOf, type GroupHedge } from './hedge.js';
import { hedgedRace, LostRace } from './hedge-race.js';
import { isNodeFailureStatus, recordFailure, recordNeutral, recordSuccess } from './health.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet } from './replica-set.js';

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

export async function callGroup(set: ReplicaSet, call: UpstreamCall, fwd: ForwardInfo, signal?: AbortSignal): Promise<UpstreamAnswer> {
  const tried = new Set<UpstreamNode>();
  const maxTries = call.write || call.node ? 1 : 1 + set.config.retry.attempts;
  let last: UpstreamAnswer | ProxyError | undefined;
  for (let attempt = 0; attempt < maxTries; attempt++) {
    const node = call.node ?? set.select({ write: call.write, strong: call.strong, pin: call.pin, minHead: call.minHead, exclude: tried });
    if (!node) break;
    if (attempt > 0) {
      upstreamRetriesTotal.inc({ group: set.name });
      await sleep(backoffMs(set, attempt), signal);
    }
    tried.add(node);
    const outcome = await tryOnce(set, node, call, fwd, tried, signal);
    last = outcome.result;
    if (!outcome.retry) break;
  }
  if (last === undefined) throw new UpstreamUnavailableError(`no node of group ${set.name} can take this request`);
  if (last instanceof ProxyError) throw last;
  return last;
}

/**
 * One try: a hedged race for an idempotent read, a single attempt for a write or a session-bound
 * call. Nodes the hedge went to join `tried`, so a retry after the race goes elsewhere again.
 */
async function tryOnce(
  set: ReplicaSet,
  node: UpstreamNode,
  call: UpstreamCall,
  fwd: ForwardInfo,
  tried: Set<UpstreamNode>,
  signal?: AbortSignal,
): Promise<AttemptOutcome> {
  const hedge = hedgeFor(set, call);
  const race = await hedgedRace<UpstreamNode, AttemptOutcome>({
    first: node,
    attempt: (n, attemptSignal, onHeaders) => attemptOnce(set, n, call, fwd, attemptSignal, onHeaders, hedge),
    isFinal: (o) => !o.retry,
    delayMs: hedge?.delayMs(),
    budget: hedge?.budget,
    pickHedge: () => pickHedgeNode(set, call, tried),
    signal,
    onHedge: () => hedge?.noteHedge(),
    onStall: (n) => n.breaker.stall(),
    onStallEnd: (n) => n.breaker.unstall(),
    givenUp: (n) => !n.healthy,
    onFailover: () => upstreamRetriesTotal.inc({ group: set.name }),
  });
  if (race.hedgeWon) hedge?.noteWin();
  return race.result;
}

/** Hedging applies to idempotent reads that any node may serve, when the group has it on. */
function hedgeFor(set: ReplicaSet, call: UpstreamCall): GroupHedge | undefined {
  if (call.write || call.node !== undefined || !set.config.hedge.enabled) return undefined;
  return groupHedgeOf(set);
}

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

async function attemptOnce(
  set: ReplicaSet,
  node: UpstreamNode,
  call: UpstreamCall,
  fwd: ForwardInfo,
  signal: AbortSignal,
  onHeaders: () => void,
  hedge: GroupHedge | undefined,
): Promise<AttemptOutcome> {
  const now = Date.now();
  let answer: UpstreamAnswer;
  try {
    const timeouts = timeoutsFor(set.config.timeouts, call.timeoutClass);
    answer = await sendToNode(node, call.payload, fwd, { extraHeaders: set.config.headers, maxResponseBytes: set.config.maxResponseBytes, signal, timeouts, onHeaders });
  } catch (err) {
    const proxyErr = err as ProxyError;
    if (signal.aborted) return abortedAttempt(node, now, proxyErr, signal.reason);
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
    recordSuccess(node, now);
    if (verdict === 'ok' && answer.headersMs !== undefined) hedge?.noteAnswer(answer.headersMs);
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
