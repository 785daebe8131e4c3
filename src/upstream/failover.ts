// Sends one upstream request for a group: picks a node, and for an idempotent read that failed in
// a way another node may not (connection error, timeout, 502/503/504) tries one more node after a
// jittered backoff. Writes are sent once, to the primary, whatever happens: a write that timed out
// may have been applied, and repeating it elsewhere could apply it twice.
import type { UpstreamPayload } from '../dialects/types.js';
import { ProxyError, UpstreamUnavailableError } from '../errors.js';
import { upstreamRetriesTotal } from '../metrics/metrics.js';
import { sendToNode, type ForwardInfo, type UpstreamAnswer } from './client.js';
import { isNodeFailureStatus, recordFailure, recordSuccess } from './health.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet } from './replica-set.js';

export interface UpstreamCall {
  payload: UpstreamPayload;
  write: boolean;
  strong?: boolean;
  pin?: bigint;
  /** This node and no other (node-local session state): sent once, never retried elsewhere. */
  node?: UpstreamNode;
}

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
    last = await attemptOnce(set, node, call, fwd, signal);
    if (!shouldRetry(last, call)) break;
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
): Promise<UpstreamAnswer | ProxyError> {
  const now = Date.now();
  try {
    const answer = await sendToNode(node, call.payload, fwd, {
      extraHeaders: set.config.headers,
      maxResponseBytes: set.config.maxResponseBytes,
      signal,
    });
    if (isNodeFailureStatus(answer.status)) recordFailure(node, now, answer.status);
    else recordSuccess(node, now);
    learnHead(set, node, answer);
    return answer;
  } catch (err) {
    const proxyErr = err as ProxyError;
    // A response too large is the request's property, not the node's fault: the node did answer
    // (which also frees a half-open breaker's trial slot).
    if (proxyErr.retryable) recordFailure(node, now, proxyErr);
    else recordSuccess(node, now);
    return proxyErr;
  }
}

function shouldRetry(outcome: UpstreamAnswer | ProxyError, call: UpstreamCall): boolean {
  if (outcome instanceof ProxyError) return outcome.retryable;
  // 410 Gone on a pinned read: this node pruned the version (its X-Aptos-Ledger-Oldest-Version
  // now tells selection so); another node may still have it.
  if (outcome.status === 410 && call.pin !== undefined) return true;
  return isNodeFailureStatus(outcome.status);
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
