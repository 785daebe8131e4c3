// One client request through the ordered stages of DESIGN.md:
//   context ─▶ route ─▶ pass-through | (body ─▶ dialect.parse ─▶ plan ─▶ cache/coalesce/upstream ─▶ write) ─▶ end
// Each stage either continues or produces the reply; none calls back into an earlier one.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Call, InboundRequest, ParsedRequest } from '../dialects/types.js';
import { asProxyError, InvalidParamsError, NoRouteError } from '../errors.js';
import { callsTotal, inflightRequests } from '../metrics/metrics.js';
import { writeError } from '../response/error-reply.js';
import { acceptsGzip } from '../response/headers.js';
import { writeEntry, writeRpc, type WriteOptions } from '../response/write.js';
import type { RequestContext } from '../server/context.js';
import { remainingMs as remaining, splitUrl } from '../server/context.js';
import type { ProxyState } from '../server/state.js';
import type { ForwardInfo } from '../upstream/client.js';
import { forwardInfo } from '../upstream/forwarding.js';
import { passThrough } from '../upstream/passthrough.js';
import { endRequest } from './end.js';
import { restFetcher, type FetchContext } from './fetch-rest.js';
import { rpcFetcher } from './fetch-rpc.js';
import { planCall, type CallPlan, type PlanOptions } from './plan-call.js';
import { readBody } from './read-body.js';
import { serveCalls, type CallResult } from './serve-calls.js';
import { observeAnswers, observePassThrough, observeRemembered } from '../runtime/observe-answers.js';
import { servedVersion } from '../runtime/served-version.js';

export async function handleRequest(state: ProxyState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const ctx = createContext(state, req, res);
  inflightRequests.inc();
  try {
    await runStages(state, ctx);
  } catch (err) {
    ctx.error = asProxyError(err);
    ctx.cacheResult = 'error';
    ctx.status = ctx.error.status;
    writeError(res, ctx.route?.group.dialect.kind ?? 'rest', ctx.error, ctx.id);
  } finally {
    endRequest(ctx, state.log, state.runtime.config.log.requests);
  }
}

function createContext(state: ProxyState, req: IncomingMessage, res: ServerResponse): RequestContext {
  const incomingId = req.headers['x-request-id'];
  const id = typeof incomingId === 'string' && /^[\w.:-]{1,128}$/.test(incomingId) ? incomingId : randomUUID();
  const { path, query } = splitUrl(req.url);
  const now = performance.now();
  return {
    id, req, res, path, query,
    method: req.method ?? 'GET',
    startedAt: now,
    deadline: now + state.runtime.config.server.requestTimeoutMs,
    cacheResult: 'bypass',
  };
}

async function runStages(state: ProxyState, ctx: RequestContext): Promise<void> {
  const { req } = ctx;
  const route = state.runtime.match(ctx.method, ctx.path, req.headers.host);
  if (!route) throw new NoRouteError(`no route for ${ctx.method} ${ctx.path}`);
  ctx.route = route;
  const client = state.runtime.admission.admit(req);
  const strong = req.headers['x-read-consistency'] === 'strong';
  const path = route.config.stripPrefix ? stripPrefix(ctx.path, route.config.match.pathPrefix) : ctx.path;
  const plan = route.group.dialect.plan(ctx.method, path);
  if (plan.mode === 'passthrough') return streamThrough(state, ctx, path, plan.write, strong);
  const { server, limits } = state.runtime.config;
  const body = await readBody(req, server.maxBodyBytes, remaining(ctx));
  const fingerprint = route.group.dialect.kind === 'rest' ? state.runtime.shortcut.fingerprint(route.index, ctx.method, path, ctx.query, req.headers, body) : undefined;
  if (fingerprint !== undefined && serveRemembered(state, ctx, fingerprint)) return;
  const inbound: InboundRequest = { method: ctx.method, path, query: ctx.query, headers: req.headers, body };
  const parsed = route.group.dialect.parse(inbound, limits);
  if (parsed.kind === 'passthrough') return streamThrough(state, ctx, path, parsed.write, strong, body);
  if (parsed.kind === 'jsonrpc') state.runtime.admission.charge(client, parsed.calls.length - 1);
  await serveParsed(state, ctx, parsed, inbound, { strong, minVersion: minVersion(ctx), fingerprint });
}

/** An L1 hit found from the request bytes alone (hit-shortcut.ts); false: take the full path. */
function serveRemembered(state: ProxyState, ctx: RequestContext, fingerprint: string): boolean {
  const remembered = state.runtime.shortcut.lookup(fingerprint);
  const entry = remembered === undefined ? undefined : state.cache.memory.getSync(remembered.key);
  if (!remembered || !entry) return false;
  const group = ctx.route!.group.name;
  ctx.calls = 1;
  ctx.cacheResult = 'hit';
  ctx.xCache = 'HIT';
  ctx.status = entry.status;
  callsTotal.inc({ group, call: remembered.callName, cache: 'hit' });
  observeRemembered(ctx.route!.group, entry);
  writeEntry(ctx.res, entry, { gzip: acceptsGzip(ctx.req.headers['accept-encoding']), headOnly: ctx.method === 'HEAD', requestId: ctx.id, xCache: 'HIT' });
  return true;
}

async function serveParsed(state: ProxyState, ctx: RequestContext, parsed: Exclude<ParsedRequest, { kind: 'passthrough' }>, inbound: InboundRequest, planOpts: PlanOptions & { fingerprint?: string | undefined }): Promise<void> {
  const route = ctx.route!;
  const strong = planOpts.strong === true;
  const calls = parsed.kind === 'rest' ? [parsed.call] : parsed.calls;
  const now = performance.now();
  const plans = calls.map((call) => planCall(call, route, now, planOpts));
  if (planOpts.fingerprint !== undefined && plans.length === 1) state.runtime.shortcut.remember(planOpts.fingerprint, plans[0] as CallPlan);
  const fc = fetchContext(state, ctx, strong);
  // JSON-RPC goes to the node URL's own path: the client's path only chose the route.
  const fetcher = parsed.kind === 'rest' ? restFetcher(fc) : rpcFetcher(fc, '/');
  const deps = { cache: state.cache, flights: state.flights, group: route.group.name, timeoutMs: remaining(ctx) };
  const results = await serveCalls(plans, deps, fetcher, state.storeAnswer);
  ctx.calls = calls.length;
  summarize(ctx, results);
  countCalls(route.group.name, calls, results);
  observeAnswers(route.group, calls, results, performance.now());
  const answersFor = servedVersion(plans, results, state.cache);
  const opts: WriteOptions = { gzip: acceptsGzip(ctx.req.headers['accept-encoding']), headOnly: ctx.method === 'HEAD', requestId: ctx.id, xCache: ctx.xCache ?? 'MISS' };
  if (answersFor !== undefined) opts.extraHeaders = ['x-ledgerproxy-version', answersFor.toString()];
  if (parsed.kind === 'jsonrpc') {
    ctx.status = writeRpc(ctx.res, { calls, results, batch: parsed.batch }, opts);
    return;
  }
  const only = results[0];
  // Too large to buffer (and so to cache): ask again through the streaming path, which holds no
  // more than a socket buffer of it. Only reads get here; repeating a read is safe.
  if (only?.cache === 'error' && only.error.code === 'upstream_response_too_large' && calls[0]?.cls !== 'write') {
    return streamThrough(state, ctx, inbound.path, false, strong, inbound.body.length > 0 ? inbound.body : undefined);
  }
  if (!only || only.cache === 'error') throw only?.error ?? new Error('no result');
  ctx.status = only.answer.entry.status;
  writeEntry(ctx.res, only.answer.entry, opts);
}

/** Everything a fetcher needs; the parts that cost something are made only when a call goes upstream. */
function fetchContext(state: ProxyState, ctx: RequestContext, strong: boolean): FetchContext {
  const route = ctx.route!;
  let fwd: ForwardInfo | undefined;
  let signal: AbortSignal | undefined;
  return {
    group: route.group,
    get fwd() {
      return (fwd ??= forwardInfo(state.runtime.config.server.trustForwardedFor, ctx.id, ctx.req));
    },
    get signal() {
      return (signal ??= deadlineSignal(ctx));
    },
    strong,
    maxEntryBytes: state.runtime.config.cache.memory.maxEntryBytes,
    unfinalizedTtlMs: route.config.cache.ttlMs.unfinalized,
    onNode: (name) => { ctx.node = name; },
  };
}

async function streamThrough(state: ProxyState, ctx: RequestContext, path: string, write: boolean, strong: boolean, body?: Buffer): Promise<void> {
  const route = ctx.route!;
  // Proxy-only headers end here (parsed requests never forward client headers, so only this path strips them).
  delete ctx.req.headers['x-read-consistency'];
  delete ctx.req.headers['x-min-ledger-version'];
  ctx.req.url = path + (ctx.query ? `?${ctx.query}` : '');
  ctx.res.setHeader('x-cache', 'BYPASS');
  ctx.res.setHeader('x-request-id', ctx.id);
  ctx.xCache = 'BYPASS';
  const done = await passThrough(ctx.req, ctx.res, {
    set: route.group.set, write, strong, fwd: forwardInfo(state.runtime.config.server.trustForwardedFor, ctx.id, ctx.req), timeoutMs: remaining(ctx),
    body,
  });
  observePassThrough(route.group, write, ctx.res.getHeaders());
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

function countCalls(group: string, calls: Call[], results: CallResult[]): void {
  calls.forEach((call, i) => callsTotal.inc({ group, call: call.name, cache: results[i]?.cache ?? 'error' }));
}

/** X-Cache for the response and the aggregate label for metrics. */
function summarize(ctx: RequestContext, results: CallResult[]): void {
  const labels = new Set(results.map((r) => r.cache));
  if (labels.size === 1) {
    const only = [...labels][0] ?? 'bypass';
    ctx.cacheResult = only;
    ctx.xCache = only.toUpperCase();
    return;
  }
  const served = results.filter((r) => r.cache === 'hit' || r.cache === 'coalesced').length;
  ctx.cacheResult = 'partial';
  ctx.xCache = `PARTIAL ${served}/${results.length}`;
}


/**
 * Aborts at the request's deadline; the timer is cleared when the response is done, so a served
 * request holds no timer (AbortSignal.timeout would keep one, and its listeners, for the full
 * timeout after every miss).
 */
function deadlineSignal(ctx: RequestContext): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('request deadline')), Math.max(1, remaining(ctx)));
  ctx.res.once('close', () => clearTimeout(timer));
  return controller.signal;
}

function stripPrefix(path: string, prefix: string): string {
  const rest = path.slice(prefix.replace(/\/$/, '').length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
