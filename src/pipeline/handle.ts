// One client request through the ordered stages of DESIGN.md:
//   lease the runtime ─▶ context ─▶ route ─┬─▶ pass-through (streamed both ways)
//                                          └─▶ body ─▶ dialect.parse ─▶ plan ─▶ call steps ─▶ observe ─▶ write
//   ─▶ end (metrics + log), release the lease.
// The request reads only the runtime it leased at its start (ctx.runtime), never the state's
// current one: a reload mid-request changes nothing under it. Whether the request is streamed
// rather than served from buffers is decided by the buffered path alone (the dialect's plan before
// the body, serveBuffered's answer after it), and it is streamed by one call to passThrough
// (streamIfAsked). Each stage either continues or produces the reply; none calls back into an
// earlier one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Call, InboundRequest, ParsedRequest } from '../dialects/types.js';
import { asProxyError, InvalidParamsError, NoRouteError, type ProxyError } from '../errors.js';
import { callsCells, inflightCell } from '../metrics/metrics.js';
import { acceptsGzip } from '../response/headers.js';
import { writeEntry, writeRpc, type WriteOptions } from '../response/write.js';
import type { Runtime, RuntimeLease } from '../runtime/runtime.js';
import type { CallPlan, CallResult } from '../runtime/types.js';
import { remainingMs as remaining, RequestContext, requestIdOf, splitUrl } from '../server/context.js';
import { methodPolicyFor } from '../server/method-policy.js';
import { normaliseTarget } from '../server/request-path.js';
import type { ProxyState } from '../server/state.js';
import { forwardInfo } from '../upstream/forwarding.js';
import { passThrough } from '../upstream/passthrough.js';
import { serveCalls } from './calls/serve.js';
import { countCalls } from './count-calls.js';
import { answerError, finishAfter, finishRequest } from './finish-request.js';
import { planCalls, type PlanOptions } from './plan-call.js';
import { RequestRun } from './request-run.js';
import { readBodyInto, type BodySink } from './read-body.js';
import { observeAnswers, observePassThrough, observeRemembered } from './observe-answers.js';
import { servedVersion } from './served-version.js';

/** The request goes to a node as a stream, not through the buffered path: why, and what is already read. */
interface StreamInstead {
  /** To the primary only. */
  write: boolean;
  /** The body, when the buffered path already read it. */
  body?: Buffer | undefined;
}

/**
 * No promise on the hit path: a hit waits on one thing, its body, and the request's sink
 * (BufferedRequest) is told of it from the request's 'end' event and answers it there, as a bare
 * node:http server does. Each async level over the body cost a promise, its closures and a
 * microtask hop per request. Only what really waits (a node, a stream) makes a promise.
 */
export function handleRequest(state: ProxyState, req: IncomingMessage, res: ServerResponse): void {
  const lease = state.acquire();
  const ctx = createContext(lease.runtime, req, res);
  inflightCell.value++;
  let staged: Staged = undefined;
  try {
    staged = runStages(state, ctx, lease);
  } catch (err) {
    answerError(state, ctx, err);
  }
  if (staged === READING) return;
  if (staged === undefined) finishRequest(state, ctx, lease);
  else finishAfter(state, ctx, lease, staged);
}

/** What runStages leaves: nothing (answered), the rest as a promise, or a body read that ends the request itself. */
type Staged = Promise<void> | undefined | typeof READING;
const READING = Symbol('reading the body');

function createContext(runtime: Runtime, req: IncomingMessage, res: ServerResponse): RequestContext {
  const id = requestIdOf(req.headers);
  // One normalised path for routing, planning and forwarding (request-path.ts); a path that has
  // no single meaning is refused before anything else.
  let target: { path: string; query: string };
  let refused: ProxyError | undefined;
  try {
    target = normaliseTarget(req.url);
  } catch (err) {
    target = splitUrl(req.url);
    refused = asProxyError(err);
  }
  const ctx = new RequestContext(id, req, res, req.method ?? 'GET', target.path, target.query, runtime, performance.now());
  if (refused) ctx.error = refused;
  return ctx;
}

/**
 * Synchronous up to the body (throws the client errors found before it); a pass-through is the
 * promise, a buffered request is handed to its body read (READING), which ends it.
 */
function runStages(state: ProxyState, ctx: RequestContext, lease: RuntimeLease): Staged {
  if (ctx.error) throw ctx.error;
  const route = ctx.runtime.match(ctx.method, ctx.path, ctx.req.headers.host);
  if (!route) throw new NoRouteError(`no route for ${ctx.method} ${ctx.path}`);
  ctx.route = route;
  const path = route.config.stripPrefix ? stripPrefix(ctx.path, route.config.match.pathPrefix) : ctx.path;
  // Admission first: strongRead needs the API key admit() took off the request.
  ctx.runtime.admission.admit(ctx.req);
  const strong = ctx.runtime.admission.strongRead(ctx.req);
  const dialect = route.group.dialect;
  const plan = dialect.plan(ctx.method, path);
  if (plan.mode === 'passthrough') return streamIfAsked(ctx, path, strong, { write: plan.write });
  readBodyInto(ctx.req, ctx.runtime.config.server.maxBodyBytes, ctx.deadline, new BufferedRequest(state, ctx, lease, path, strong));
  return READING;
}

/**
 * A buffered request waiting for its body: told once by the read (read-body.ts), from the
 * request's own events, and from then on the owner of the request's end. Never throws: what
 * fails is the request's answer.
 */
class BufferedRequest implements BodySink {
  constructor(
    private readonly state: ProxyState,
    private readonly ctx: RequestContext,
    private readonly lease: RuntimeLease,
    private readonly path: string,
    private readonly strong: boolean,
  ) {}

  bodyIn(body: Buffer): void {
    let answer: StreamInstead | undefined | Promise<StreamInstead | undefined>;
    try {
      answer = serveBuffered(this.state, this.ctx, this.path, this.strong, body);
    } catch (err) {
      answer = undefined;
      answerError(this.state, this.ctx, err);
    }
    // A miss or a follower: one handler pair on the answer, which also ends the request (before, a
    // promise chained for the stream decision and a second one to finish: one hop more per request).
    if (answer instanceof Promise) answer.then((how) => this.answered(how), (err: unknown) => this.bodyFailed(err));
    else this.answered(answer);
  }

  /** The buffered answer is written, or the request is to be streamed instead; then its end. */
  private answered(how: StreamInstead | undefined): void {
    const { state, ctx, lease } = this;
    let rest: Promise<void> | undefined;
    try {
      rest = streamIfAsked(ctx, this.path, this.strong, how);
    } catch (err) {
      answerError(state, ctx, err);
    }
    if (rest === undefined) finishRequest(state, ctx, lease);
    else finishAfter(state, ctx, lease, rest);
  }

  bodyFailed(err: unknown): void {
    answerError(this.state, this.ctx, err);
    finishRequest(this.state, this.ctx, this.lease);
  }
}

/**
 * The buffered path once the body is in: parse, plan, call steps, write. Answers how to stream
 * the request instead, when the dialect says it must be (after parsing: a request it hands back)
 * or the one answer was too large to buffer; a hit found from the request bytes is answered here
 * and then, synchronously.
 */
function serveBuffered(state: ProxyState, ctx: RequestContext, path: string, strong: boolean, body: Buffer): StreamInstead | undefined | Promise<StreamInstead | undefined> {
  const route = ctx.route!;
  const { runtime, req } = ctx;
  const dialect = route.group.dialect;
  const keyed = dialect.keyFromRequestBytes === true;
  if (keyed && serveRemembered(state, ctx, path, body)) return undefined;
  const inbound: InboundRequest = { method: ctx.method, path, query: ctx.query, headers: req.headers, body };
  const parsed = dialect.parse(inbound, runtime.config.limits);
  if (parsed.kind === 'passthrough') return { write: parsed.write, body };
  if (parsed.kind === 'jsonrpc') {
    runtime.admission.charge(req, parsed.calls.length - 1);
    methodPolicyFor(route.group.config).apply(parsed.calls);
  }
  // Not remembered: the full path remembers the key under these bytes (serveParsed) once it finds it in L1.
  return serveParsed(state, ctx, parsed, inbound, { strong, minVersion: minVersion(ctx), keyed });
}

/** A remembered hit's calls-counter labels, refilled per hit (the cells keep no reference). */
const hitLabels = ['', '', 'hit'];

/**
 * A remembered hit's write options, refilled per hit: writeEntry reads them synchronously and
 * keeps none (nothing runs between the fill and that read). Never given extraHeaders.
 */
const hitWrite: WriteOptions = { gzip: false, headOnly: false, requestId: '', xCache: 'HIT' };

/** An L1 hit found from the request bytes alone (runtime/hit-shortcut.ts); false: take the full path. */
function serveRemembered(state: ProxyState, ctx: RequestContext, path: string, body: Buffer): boolean {
  const remembered = ctx.runtime.shortcut.lookup(ctx.route!.index, ctx.method, path, ctx.query, ctx.req.headers, body);
  const entry = remembered === undefined ? undefined : state.cache.memory.getSync(remembered.key, false);
  if (!remembered || !entry) return false;
  const group = ctx.route!.group.name;
  ctx.calls = 1;
  ctx.cacheResult = 'hit';
  ctx.xCache = 'HIT';
  ctx.status = entry.status;
  hitLabels[0] = group;
  hitLabels[1] = remembered.callName;
  callsCells.inc(hitLabels);
  observeRemembered(ctx.route!.group, entry);
  hitWrite.gzip = acceptsGzip(ctx.req.headers['accept-encoding']);
  hitWrite.headOnly = ctx.method === 'HEAD';
  hitWrite.requestId = ctx.id;
  writeEntry(ctx.res, entry, hitWrite);
  return true;
}

async function serveParsed(
  state: ProxyState,
  ctx: RequestContext,
  parsed: Exclude<ParsedRequest, { kind: 'passthrough' }>,
  inbound: InboundRequest,
  planOpts: PlanOptions & { keyed: boolean },
): Promise<StreamInstead | undefined> {
  const route = ctx.route!;
  const calls = parsed.kind === 'rest' ? [parsed.call] : parsed.calls;
  const plans = planCalls(calls, route, performance.now(), planOpts);
  const served = serveCalls(plans, new RequestRun(state, ctx, parsed.kind === 'jsonrpc', planOpts.strong === true));
  // Every call answered from L1 comes back synchronously: no await for it.
  const results = Array.isArray(served) ? served : await served;
  // Remembered once the full path has found the entry in L1 (the second identical request), not
  // on the miss that stores it: most misses are never asked again (a new argument every time) and
  // each remembered one cost a new key in the shortcut's LRU. The third request takes the shortcut.
  // The fingerprint (a string holding the whole body) is built only then, not on every miss.
  const first = plans[0];
  if (planOpts.keyed && plans.length === 1 && first && results[0]?.cache === 'hit') remember(ctx, inbound, first);
  const asking = observeAnswers(route.group, calls, results, performance.now());
  if (asking !== undefined) await asking;
  ctx.calls = calls.length;
  summarize(ctx, results);
  countCalls(route.group.name, calls, results);
  const answersFor = servedVersion(plans, results, state.cache);
  const opts: WriteOptions = { gzip: acceptsGzip(ctx.req.headers['accept-encoding']), headOnly: ctx.method === 'HEAD', requestId: ctx.id, xCache: ctx.xCache ?? 'MISS' };
  if (answersFor !== undefined) opts.extraHeaders = ['x-ledgerproxy-version', answersFor.toString()];
  if (parsed.kind === 'jsonrpc') {
    ctx.status = writeRpc(ctx.res, { calls, results, batch: parsed.batch }, opts);
    return undefined;
  }
  const only = results[0];
  // Too large to buffer (and so to cache): asked again through the streaming path, which holds no
  // more than a socket buffer of it. Only reads get here; repeating a read is safe.
  if (only?.cache === 'error' && only.error.code === 'upstream_response_too_large' && calls[0]?.cls !== 'write') {
    return { write: false, body: inbound.body.length > 0 ? inbound.body : undefined };
  }
  if (!only || only.cache === 'error') throw only?.error ?? new Error('no result');
  ctx.status = only.answer.entry.status;
  writeEntry(ctx.res, only.answer.entry, opts);
  return undefined;
}

/** Remembers a single call's key under the request bytes it was planned from (runtime/hit-shortcut.ts). */
function remember(ctx: RequestContext, inbound: InboundRequest, plan: CallPlan): void {
  const shortcut = ctx.runtime.shortcut;
  const fingerprint = shortcut.fingerprint(ctx.route!.index, inbound.method, inbound.path, inbound.query, inbound.headers, inbound.body);
  if (fingerprint !== undefined) shortcut.remember(fingerprint, plan);
}

/** The one place a request is streamed to a node, whatever decided it (the plan, or serveBuffered's answer). */
function streamIfAsked(ctx: RequestContext, path: string, strong: boolean, how: StreamInstead | undefined): Promise<void> | undefined {
  return how === undefined ? undefined : streamThrough(ctx, path, strong, how);
}

async function streamThrough(ctx: RequestContext, path: string, strong: boolean, how: StreamInstead): Promise<void> {
  const route = ctx.route!;
  // Proxy-only headers end here (parsed requests never forward client headers, so only this path strips them).
  delete ctx.req.headers['x-read-consistency'];
  delete ctx.req.headers['x-min-ledger-version'];
  ctx.req.url = path + (ctx.query ? `?${ctx.query}` : '');
  ctx.res.setHeader('x-cache', 'BYPASS');
  ctx.res.setHeader('x-request-id', ctx.id);
  ctx.xCache = 'BYPASS';
  ctx.cacheResult = 'bypass';
  const done = await passThrough(ctx.req, ctx.res, {
    set: route.group.set, write: how.write, strong, fwd: forwardInfo(ctx.runtime.admission.forwarded, ctx.id, ctx.req), timeoutMs: remaining(ctx),
    body: how.body, maxBodyBytes: ctx.runtime.config.server.maxBodyBytes,
  });
  observePassThrough(route.group, how.write, ctx.res.getHeaders());
  ctx.node = done.node;
  ctx.status = done.status;
}

/** X-Min-Ledger-Version, on routes that promise monotonic reads. */
function minVersion(ctx: RequestContext): bigint | undefined {
  const raw = ctx.req.headers['x-min-ledger-version'];
  if (!ctx.route?.config.monotonicReads || raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,20}$/.test(raw)) throw new InvalidParamsError('X-Min-Ledger-Version must be a decimal version');
  return BigInt(raw);
}

/** X-Cache for the response and the aggregate label for metrics: one pass, no sets or copies. */
function summarize(ctx: RequestContext, results: CallResult[]): void {
  const first = results[0]?.cache;
  let alike = first !== undefined;
  let served = 0;
  for (const r of results) {
    if (r.cache !== first) alike = false;
    if (r.cache === 'hit' || r.cache === 'coalesced') served++;
  }
  if (alike && first !== undefined) {
    ctx.cacheResult = first;
    ctx.xCache = X_CACHE[first];
    return;
  }
  ctx.cacheResult = 'partial';
  ctx.xCache = `PARTIAL ${served}/${results.length}`;
}

/** The X-Cache value of each result (its label upper-cased), made once. */
const X_CACHE: Readonly<Record<CallResult['cache'], string>> = {
  hit: 'HIT', miss: 'MISS', coalesced: 'COALESCED', bypass: 'BYPASS', stale: 'STALE', error: 'ERROR',
};


function stripPrefix(path: string, prefix: string): string {
  const rest = path.slice(prefix.replace(/\/$/, '').length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
