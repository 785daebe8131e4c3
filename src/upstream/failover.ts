// Sends one upstream request for a group: picks a node, and for an idempotent read that failed in
// a way another node may not (connection error, timeout, 502/503/504) tries one more node after a
// jittered backoff. Writes are sent once, to the primary, whatever happens: a write that timed out
// may have been applied, and repeating it elsewhere could apply it twice.
import type { UpstreamPayload } from '../dialects/types.js';
import { ProxyError, UpstreamBadResponseError, UpstreamUnavailableError } from '../errors.js';
import { upstreamErrorsTotal, upstreamRetriesTotal } from '../metrics/metrics.js';
import { sendToNode, type ForwardInfo, type UpstreamAnswer } from './client.js';
import { isNodeFailureStatus, recordFailure, recordSuccess } from './health.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet } from './replica-set.js';

export interface UpstreamCall {
  payload: UpstreamPayload;
  write: boolean;
  strong?: boolean;
  pin?: bigint;
  /** Pins of the calls in the request, in order (JSON-RPC batches); default [pin]. */
  pins?: ReadonlyArray<bigint | undefined>;
  /** This node and no other (node-local session state): sent once, never retried elsewhere. */
  node?: UpstreamNode;
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
    const node = call.node ?? set.select({ write: call.write, strong: call.strong, pin: call.pin, exclude: tried });
    if (!node) break;
    if (attempt > 0) {
      upstreamRetriesTotal.inc({ group: set.name });
      await sleep(backoffMs(set, attempt), signal);
    }
    tried.add(node);
    const outcome = await attemptOnce(set, node, call, fwd, signal);
    last = outcome.result;
    if (!outcome.retry) break;
  }
  if (last === undefined) throw new UpstreamUnavailableError(`no node of group ${set.name} can take this request`);
  if (last instanceof ProxyError) throw last;
  return last;
}

async function attemptOnce(
  set: ReplicaSet,
  node: UpstreamNode,
  call: UpstreamCall,
  fwd: ForwardInfo,
  signal?: AbortSignal,
): Promise<{ result: UpstreamAnswer | ProxyError; retry: boolean }> {
  const now = Date.now();
  let answer: UpstreamAnswer;
  try {
    answer = await sendToNode(node, call.payload, fwd, { extraHeaders: set.config.headers, maxResponseBytes: set.config.maxResponseBytes, signal });
  } catch (err) {
    const proxyErr = err as ProxyError;
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
  } else recordSuccess(node, now);
  return { result: answer, retry: verdict === 'failed' || verdict === 'lacks-version' || prunedPin(answer, call) };
}

function judge(set: ReplicaSet, call: UpstreamCall, answer: UpstreamAnswer): AnswerVerdict {
  return set.dialect.judge({ status: answer.status, headers: answer.headers, body: answer.body }, call.pins ?? [call.pin], call.payload);
}

/** A node that says it is below the pin is believed at once, so selection skips it from now on. */
function believeLowerHead(set: ReplicaSet, node: UpstreamNode, answer: UpstreamAnswer): void {
  const head = set.dialect.headFromHeaders(answer.headers);
  if (head !== undefined && (node.head === undefined || head < node.head)) node.setPolledHead(head, Date.now());
}

/**
 * 410 Gone on a pinned read: this node pruned the version (its X-Aptos-Ledger-Oldest-Version now
 * tells selection so); another node may still have it.
 */
function prunedPin(answer: UpstreamAnswer, call: UpstreamCall): boolean {
  return answer.status === 410 && call.pin !== undefined;
}


function learnHead(set: ReplicaSet, node: UpstreamNode, answer: UpstreamAnswer): void {
  const head = set.dialect.headFromHeaders(answer.headers);
  if (head === undefined) return;
  node.noteHead(head, Date.now());
  const oldest = answer.headers['x-aptos-ledger-oldest-version'];
  if (typeof oldest === 'string' && /^\d+$/.test(oldest)) node.oldest = BigInt(oldest);
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
