// Upstream stage for JSON-RPC calls: the misses of one client request go upstream together, reads
// in one request to a replica (pinned calls only to a node that has the highest pin), writes in
// another to the primary, and only the writes. Calls are re-id'd 0..n-1 upstream, so duplicate or
// odd client ids can never be confused; the answers are matched back by those ids and handed out
// as byte slices of what the node sent.
import { baseCacheable, identityEntry } from '../cache/policy.js';
import { scanRpcResponse, type ScannedRpcResponse } from '../dialects/rpc-answer-scan.js';
import type { UpstreamPayload } from '../dialects/types.js';
import {
  asProxyError,
  type ProxyError,
  UpstreamBadResponseError,
  UpstreamConnectError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../errors.js';
import { answered, failed, type Answer, type CallPlan, type Outcome } from '../runtime/types.js';
import { slowestClass } from '../upstream/call-timeouts.js';
import { callGroup } from '../upstream/failover.js';
import type { UpstreamNode } from '../upstream/node.js';
import type { FetchMisses } from './calls/types.js';
import type { FetchContext } from './fetch-rest.js';

export function rpcFetcher(fc: FetchContext, path: string): FetchMisses {
  return async (plans) => {
    const out: Outcome[] = new Array(plans.length);
    const indexed = plans.map((p, i) => [p, i] as const);
    const reads = indexed.filter(([p]) => !p.write && p.call.affinity === undefined);
    const writes = indexed.filter(([p]) => p.write && p.call.affinity === undefined);
    // A call continuing a session goes alone to the node that holds it.
    const bound = indexed.filter(([p]) => p.call.affinity !== undefined).map((item) => sendGroup([item], false, fc, path, out));
    await Promise.all([sendGroup(reads, false, fc, path, out), sendGroup(writes, true, fc, path, out), ...bound]);
    return out;
  };
}

async function sendGroup(
  items: ReadonlyArray<readonly [CallPlan, number]>,
  write: boolean,
  fc: FetchContext,
  path: string,
  out: Outcome[],
): Promise<void> {
  if (items.length === 0) return;
  const plans = items.map(([p]) => p);
  const answers = await exchange(plans, write, fc, path);
  items.forEach(([, i], n) => {
    out[i] = answers[n] as Outcome;
  });
}

async function exchange(plans: CallPlan[], write: boolean, fc: FetchContext, path: string): Promise<Outcome[]> {
  const texts = plans.map((p, n) => rpcText(p, n));
  // A lone call goes as a plain object: some nodes and gateways refuse batches.
  const body = Buffer.from(texts.length === 1 ? (texts[0] as string) : `[${texts.join(',')}]`);
  const payload: UpstreamPayload = { method: 'POST', pathAndQuery: path, headers: { 'content-type': 'application/json', accept: 'application/json' }, body };
  const pin = plans.reduce<bigint | undefined>((max, p) => (p.pin !== undefined && (max === undefined || p.pin > max) ? p.pin : max), undefined);
  try {
    const strong = fc.strong || plans.some((p) => p.strong === true);
    const affinity = plans[0]?.call.affinity;
    const node = affinity === undefined ? undefined : fc.group.set.nodeForSession(affinity);
    const pins = plans.map((p) => p.pin);
    const timeoutClass = slowestClass(plans.map((p) => p.call.timeoutClass));
    const minHead = plans.reduce<bigint | undefined>((m, p) => (p.minHead !== undefined && (m === undefined || p.minHead > m) ? p.minHead : m), undefined);
    const res = await callGroup(fc.group.set, { payload, write, strong, pin, pins, node, timeoutClass, minHead }, fc.fwd, fc.signal);
    fc.onNode(res.node.name);
    const answers = matchAnswers(plans, res.status, res.headers, res.body, res.node.name, fc);
    rememberSessions(plans, answers, res.node, fc);
    return answers;
  } catch (err) {
    const error = asProxyError(err);
    return plans.map(() => failed(error));
  }
}

/** Sessions opened by these answers live on the node that gave them: later calls must go there. */
function rememberSessions(plans: CallPlan[], answers: Outcome[], node: UpstreamNode, fc: FetchContext): void {
  const sessionOf = fc.group.dialect.sessionOf;
  if (!sessionOf) return;
  answers.forEach((outcome, n) => {
    const plan = plans[n];
    if (!plan || !outcome.ok || outcome.answer.rpcError) return;
    const session = sessionOf(plan.call, outcome.answer.entry.body);
    if (session === undefined) return;
    fc.group.set.rememberSession(session, node);
    outcome.answer.exclusive = true;
  });
}

function rpcText(plan: CallPlan, n: number): string {
  const rpc = plan.call.rpc;
  if (!rpc) throw new Error('JSON-RPC plan without rpc forward');
  return rpc.body(n, plan.forwardPin);
}

function matchAnswers(
  plans: CallPlan[],
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  node: string,
  fc: FetchContext,
): Outcome[] {
  let scanned: ScannedRpcResponse[];
  try {
    scanned = scanRpcResponse(body);
  } catch (err) {
    const failure = status === 200 ? asProxyError(err) : statusError(status);
    return plans.map(() => failed(failure));
  }
  const byId = new Map(scanned.map((s) => [s.idRaw, s]));
  // A node that rejects the whole request answers one error with id null: it applies to every call.
  const whole = scanned.length === 1 && scanned[0]?.idRaw === 'null' ? scanned[0] : undefined;
  return plans.map((plan, n) => {
    const item = byId.get(String(n)) ?? whole;
    if (!item) return failed(new UpstreamBadResponseError(`upstream answer has no element for call ${n}`));
    return answered(toAnswer(plan, item, status, headers, node, fc));
  });
}

function toAnswer(
  plan: CallPlan,
  item: ScannedRpcResponse,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  node: string,
  fc: FetchContext,
): Answer {
  const now = Date.now();
  if (item.error) return { entry: identityEntry(status, [], item.error, now), rpcError: true, cacheable: false, node };
  const result = item.result ?? Buffer.from('null');
  const cacheable =
    baseCacheable(status, headers, result.length, fc.maxEntryBytes) &&
    fc.group.dialect.isCacheable(plan.call, { status, headers, body: result, rpcError: false });
  return { entry: identityEntry(200, [], result, now), cacheable, node, ttlMs: reorgTtl(plan, result, fc) };
}

/** A transaction found by hash in a block within finalityDepth of the head may still move. */
function reorgTtl(plan: CallPlan, result: Buffer, fc: FetchContext): number | undefined {
  const block = fc.group.dialect.answerBlock?.(plan.call, result);
  if (block === undefined || fc.group.finalityDepth === 0n) return undefined;
  const head = fc.group.set.head;
  return head === undefined || block > head - fc.group.finalityDepth ? fc.unfinalizedTtlMs : undefined;
}

function statusError(status: number): ProxyError {
  if (status === 504) return new UpstreamTimeoutError(`upstream answered ${status}`);
  if (status === 503 || status === 429) return new UpstreamUnavailableError(`upstream answered ${status}`);
  return status >= 500 ? new UpstreamConnectError(`upstream answered ${status}`) : new UpstreamBadResponseError(`upstream answered ${status} without a JSON-RPC body`);
}
