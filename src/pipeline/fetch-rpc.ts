// Upstream stage for JSON-RPC calls: the misses of one client request go upstream together, reads
// in one request to a replica (pinned calls only to a node that has the highest pin), writes in
// another to the primary, and only the writes. Calls are re-id'd 0..n-1 upstream, so duplicate or
// odd client ids can never be confused; the answers are matched back by those ids and handed out
// as byte slices of what the node sent.
import { BodySlab, SLAB_BODY_MAX } from '../buffers.js';
import { baseCacheable, identityEntry } from '../cache/policy.js';
import { scanRpcResponse, upstreamIndex, type ScannedRpcResponse } from '../dialects/rpc-answer-scan.js';
import type { Call, CallAnswer, UpstreamPayload } from '../dialects/types.js';
import {
  asProxyError,
  ProxyError,
  UpstreamBadResponseError,
  UpstreamResponseTooLargeError,
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
    // The usual request: reads only, none continuing a session — one exchange, nothing regrouped.
    if (plans.every((p) => !p.write && p.call.affinity === undefined)) return exchange(plans, false, fc, path);
    const out: Outcome[] = new Array(plans.length);
    const indexed = plans.map((p, i) => [p, i] as const);
    const reads = indexed.filter(([p]) => !p.write && p.call.affinity === undefined);
    const writes = indexed.filter(([p]) => p.write && p.call.affinity === undefined);
    const bound = bySessionNode(indexed.filter(([p]) => p.call.affinity !== undefined), fc).map((items) => sendGroup(items, false, fc, path, out));
    await Promise.all([sendGroup(reads, false, fc, path, out), sendGroup(writes, true, fc, path, out), ...bound]);
    return out;
  };
}

/**
 * Calls continuing sessions go to the node that holds the session; the calls of one client
 * request bound for the same node travel as one upstream batch (not one request each).
 */
function bySessionNode(items: ReadonlyArray<readonly [CallPlan, number]>, fc: FetchContext): Array<Array<readonly [CallPlan, number]>> {
  const groups = new Map<UpstreamNode, Array<readonly [CallPlan, number]>>();
  for (const item of items) {
    const node = fc.group.set.nodeForSession(item[0].call.affinity as string);
    const list = groups.get(node);
    if (list) list.push(item);
    else groups.set(node, [item]);
  }
  return [...groups.values()];
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

/** Every upstream JSON-RPC request's own headers; the client only reads them (one frozen record, not one per exchange). */
const RPC_HEADERS: Record<string, string> = Object.freeze({ 'content-type': 'application/json', accept: 'application/json' });

async function exchange(plans: CallPlan[], write: boolean, fc: FetchContext, path: string): Promise<Outcome[]> {
  const payload: UpstreamPayload = { method: 'POST', pathAndQuery: path, headers: RPC_HEADERS, body: requestBody(plans) };
  try {
    const { pin, pins, minHead, strong, timeoutClasses } = requirements(plans, fc.strong);
    const affinity = plans[0]?.call.affinity;
    const node = affinity === undefined ? undefined : fc.group.set.nodeForSession(affinity);
    const timeoutClass = slowestClass(timeoutClasses);
    const res = await callGroup(fc.group.set, { payload, write, strong, pin, pins, node, timeoutClass, minHead }, fc.fwd, fc.deadline);
    fc.onNode(res.node.name);
    const answers = matchAnswers(plans, res.status, res.headers, res.body, res.node.name, fc);
    rememberSessions(plans, answers, res.node, fc);
    return answers;
  } catch (err) {
    const failure = asProxyError(err);
    if (splittable(failure, plans, write)) return splitExchange(plans, write, fc, path);
    return plans.map(() => failed(failure));
  }
}

/**
 * maxResponseBytes bounds each call's answer, not a batch the proxy merged: when the merged
 * answer is too large, the halves are asked separately (down to single calls), so every call the
 * node answers within the limit is answered. Only reads: a write batch has been applied already.
 */
function splittable(err: ProxyError, plans: CallPlan[], write: boolean): boolean {
  return err instanceof UpstreamResponseTooLargeError && plans.length > 1 && !write;
}

async function splitExchange(plans: CallPlan[], write: boolean, fc: FetchContext, path: string): Promise<Outcome[]> {
  const half = Math.ceil(plans.length / 2);
  const [a, b] = await Promise.all([exchange(plans.slice(0, half), write, fc, path), exchange(plans.slice(half), write, fc, path)]);
  return [...a, ...b];
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

/**
 * The parts of the body being joined. One list for every request, emptied after each join: a list
 * made per request grew by push from nothing to ~140 parts for a batch of 20, reallocating its
 * backing store six times (~3.5 KB per batch). requestBody runs synchronously and bodyParts never
 * calls back into it, so no two requests ever share the list at once.
 */
const bodyText: Array<string | number> = [];

/** The upstream body: the calls re-id'd 0..n-1, in one text joined and encoded once. */
function requestBody(plans: CallPlan[]): Buffer {
  const parts = bodyText;
  try {
    // A lone call goes as a plain object: some nodes and gateways refuse batches.
    if (plans.length === 1) bodyParts(parts, plans[0] as CallPlan, 0);
    else {
      parts.push('[');
      for (let n = 0; n < plans.length; n++) {
        if (n > 0) parts.push(',');
        bodyParts(parts, plans[n] as CallPlan, n);
      }
      parts.push(']');
    }
    return Buffer.from(parts.join(''));
  } finally {
    // pop(), not `length = 0`: that may drop the backing store (and is a slow runtime call).
    while (parts.length > 0) parts.pop();
  }
}

/** What the node must offer for these calls: the highest pin and head, each call's pin, strong, timeouts. */
function requirements(plans: CallPlan[], strong: boolean) {
  let pin: bigint | undefined;
  let minHead: bigint | undefined;
  const pins: Array<bigint | undefined> = new Array(plans.length);
  const timeoutClasses: Array<Call['timeoutClass']> = new Array(plans.length);
  for (let n = 0; n < plans.length; n++) {
    const p = plans[n] as CallPlan;
    pins[n] = p.pin;
    timeoutClasses[n] = p.call.timeoutClass;
    if (p.pin !== undefined && (pin === undefined || p.pin > pin)) pin = p.pin;
    if (p.minHead !== undefined && (minHead === undefined || p.minHead > minHead)) minHead = p.minHead;
    if (p.strong === true) strong = true;
  }
  return { pin, pins, minHead, strong, timeoutClasses };
}

function bodyParts(parts: Array<string | number>, plan: CallPlan, n: number): void {
  const rpc = plan.call.rpc;
  if (!rpc) throw new Error('JSON-RPC plan without rpc forward');
  rpc.bodyParts(parts, n, plan.forwardPin);
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
  // Strictly by id (see answerIdsIntact; the judge has already asked another node when it was
  // broken). Only a lone id:null *error* is the node rejecting the whole request.
  const whole = scanned.length === 1 && scanned[0]?.idRaw === 'null' && scanned[0].isError ? scanned[0] : undefined;
  const byIndex = whole === undefined ? itemsByIndex(scanned, plans.length) : undefined;
  const ctx: AnswerContext = {
    status,
    headers,
    node,
    fc,
    now: Date.now(),
    setsCookie: headers['set-cookie'] !== undefined,
    view: { status, headers, body: EMPTY, rpcError: false },
    slab: plans.length > 1 ? slabFor(scanned) : undefined,
    body,
  };
  const out: Outcome[] = new Array(plans.length);
  for (let n = 0; n < plans.length; n++) {
    const item = whole ?? byIndex?.[n];
    if (item === undefined) out[n] = failed(new UpstreamBadResponseError(`upstream answer has no element for call ${n}`));
    else if (item === DUPLICATE) out[n] = failed(new UpstreamBadResponseError(`upstream answer has more than one element for call ${n}`));
    else out[n] = answered(toAnswer(plans[n] as CallPlan, item, ctx));
  }
  return out;
}

const DUPLICATE = 'duplicate';
/** A JSON-RPC answer keeps no headers of the node's (the envelope's are the proxy's own): one list for all. */
const NO_HEADERS: ReadonlyArray<readonly [string, string]> = Object.freeze([]);
const EMPTY = Buffer.alloc(0);

/** The answers by the call index their id names (see upstreamIndex); other ids match no call. */
function itemsByIndex(scanned: readonly ScannedRpcResponse[], n: number): Array<ScannedRpcResponse | typeof DUPLICATE | undefined> {
  const byIndex: Array<ScannedRpcResponse | typeof DUPLICATE | undefined> = new Array(n);
  for (const item of scanned) {
    const index = upstreamIndex(item.idRaw, n);
    if (index >= 0) byIndex[index] = byIndex[index] === undefined ? item : DUPLICATE;
  }
  return byIndex;
}

/**
 * The small results of a batch answer are stored packed (see BodySlab): one allocation for all
 * of them instead of one per entry. A lone call gains nothing from it (ownedCopy makes its one).
 */
function slabFor(scanned: readonly ScannedRpcResponse[]): BodySlab | undefined {
  let bytes = 0;
  for (const item of scanned) {
    const length = item.end - item.start;
    if (!item.isError && length <= SLAB_BODY_MAX) bytes += length;
  }
  return bytes === 0 ? undefined : new BodySlab(bytes);
}

/** What every call of one upstream answer shares. */
interface AnswerContext {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  node: string;
  fc: FetchContext;
  now: number;
  /** An answer that set a cookie was meant for its caller alone: followers make their own call. */
  setsCookie: boolean;
  /** The call's result as the dialect's isCacheable reads it (pure and synchronous: one view serves all). */
  view: CallAnswer;
  /** Where the small results that will be stored are packed (undefined: each is copied on its own). */
  slab: BodySlab | undefined;
  /** The upstream body the scanned ranges are in. */
  body: Buffer;
}

function toAnswer(plan: CallPlan, item: ScannedRpcResponse, ctx: AnswerContext): Answer {
  const { status, node, fc, now } = ctx;
  // The node's HTTP status is kept (a single call answers with it: a 500 carrying an error stays a 500).
  if (item.isError) return withCookieRule({ entry: identityEntry(status, NO_HEADERS, item.error as Buffer, now), rpcError: true, cacheable: false, node }, ctx);
  const length = item.end - item.start;
  const mayStore = baseCacheable(status, ctx.headers, length, fc.maxEntryBytes);
  // A small result that may be stored goes straight from the upstream body into the slab (its one
  // Buffer), and the dialect judges that copy; one it refuses is given back to the slab at once
  // (nothing has kept the view) and answered from the body: the slab holds no bytes no entry keeps.
  const slab = mayStore && plan.store && length <= SLAB_BODY_MAX ? ctx.slab : undefined;
  let body = slab !== undefined ? slab.packRange(ctx.body, item.start, item.end) : (item.result as Buffer);
  ctx.view.body = body;
  const cacheable = mayStore && fc.group.dialect.isCacheable(plan.call, ctx.view);
  ctx.view.body = EMPTY;
  if (slab !== undefined && !cacheable) {
    slab.unpackLast(body);
    body = item.result as Buffer;
  }
  return withCookieRule({ entry: identityEntry(status, NO_HEADERS, body, now), cacheable, node, ttlMs: reorgTtl(plan, body, fc) }, ctx);
}

function withCookieRule(answer: Answer, ctx: AnswerContext): Answer {
  if (ctx.setsCookie && answer.cacheable !== true) answer.exclusive = true;
  return answer;
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
