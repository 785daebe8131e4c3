// The admin port: never the traffic port, so a Service that exposes the proxy does not expose these.
// Probes and metrics are open (kubelet and Prometheus call from the pod network); /admin/* is open
// to loopback callers, and to others only with the configured bearer token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { registry } from '../metrics/metrics.js';
import { groupHedgeOf } from '../upstream/hedge.js';
import type { ProxyState } from './state.js';
import { splitUrl } from './context.js';

export interface AdminActions {
  reload(): Promise<{ ok: boolean; error?: string }>;
}

export function createAdminServer(state: ProxyState, actions: AdminActions): Server {
  return createServer((req, res) => {
    route(state, actions, req, res).catch((err: Error) => json(res, 500, { error: err.message }));
  });
}

async function route(state: ProxyState, actions: AdminActions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = splitUrl(req.url);
  if (path === '/healthz') return json(res, 200, { status: 'ok' });
  if (path === '/readyz') return readiness(state, res);
  if (path === '/metrics') {
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
    return;
  }
  if (!path.startsWith('/admin/')) return json(res, 404, { error: 'not found' });
  if (!authorized(state, req)) return json(res, 403, { error: 'admin endpoints need a loopback caller or the admin token' });
  const refusal = browserRefusal(state.runtime.config.server.adminToken, req);
  if (refusal) return json(res, 403, { error: refusal });
  if (path === '/admin/status' && req.method === 'GET') return json(res, 200, status(state));
  if (path === '/admin/purge' && req.method === 'POST') return purge(state, new URLSearchParams(query), res);
  if (path === '/admin/reload' && req.method === 'POST') {
    const result = await actions.reload();
    return json(res, result.ok ? 200 : 400, result);
  }
  return json(res, 404, { error: 'not found' });
}

/**
 * Ready while every group has a node that is known to answer: breaker closed and a head seen.
 * Half-open is not healthy — it only means "openMs has passed, try once": a killed node's breaker
 * goes half-open every openMs, and a pod with no live node must not rejoin the Service then.
 */
function answers(n: { breaker: { state(now: number): string }; head: bigint | undefined }, now: number): boolean {
  return n.breaker.state(now) === 'closed' && n.head !== undefined;
}

function readiness(state: ProxyState, res: ServerResponse): void {
  if (state.draining) return json(res, 503, { ready: false, reason: 'draining' });
  const now = Date.now();
  const down = [...state.runtime.groups.values()]
    .filter((g) => !g.set.all.some((n) => answers(n, now)))
    .map((g) => g.name);
  if (down.length > 0) return json(res, 503, { ready: false, reason: `no node answers for group(s): ${down.join(', ')}` });
  json(res, 200, { ready: true });
}

function status(state: ProxyState): unknown {
  const groups = [...state.runtime.groups.values()].map((g) => ({
    name: g.name,
    dialect: g.config.dialect,
    head: g.set.head?.toString(),
    hedge: groupHedgeOf(g.set).status(),
    chain: g.chain.id ?? null,
    nodes: g.set.all.map((n) => ({
      name: n.name,
      role: n.role,
      healthy: n.breaker.state(Date.now()) === 'closed',
      head: n.head?.toString(),
      oldest: n.oldest?.toString(),
      inflight: n.inflight,
      breaker: n.breaker.state(Date.now()),
      consecutiveFailures: n.breaker.consecutiveFailures,
      failureRate: n.breaker.failureRate,
      current: g.set.isCurrent(n),
      latencyMs: Math.round(n.latencyMs * 10) / 10,
    })),
  }));
  const memory = state.cache.memory;
  return {
    draining: state.draining,
    groups,
    cache: { memory: { entries: memory.size, bytes: memory.bytes, maxBytes: memory.maxBytes }, redis: state.cache.remote !== undefined },
    inflightCalls: state.flights.size,
  };
}

async function purge(state: ProxyState, params: URLSearchParams, res: ServerResponse): Promise<void> {
  const all = params.get('all') === 'true';
  const prefix = params.get('prefix');
  if (!all && !prefix) return json(res, 400, { error: 'give ?prefix=<group>[:<call>] or ?all=true' });
  try {
    const purged = await state.cache.purgeByTier(all ? '' : (prefix as string));
    json(res, 200, { purged });
  } catch (err) {
    json(res, 502, { error: `purge incomplete: ${(err as Error).message}` });
  }
}

function authorized(state: ProxyState, req: IncomingMessage): boolean {
  return isAdminAuthorized(state.runtime.config.server.adminToken, req.socket.remoteAddress, req.headers.authorization);
}

/**
 * What a browser on the operator's machine could do to the loopback admin port (CSRF, DNS
 * rebinding: issue 14 #8) is refused unless the admin token comes with it:
 * - a Host that is not a loopback name or address (a rebound DNS name points at 127.0.0.1 but
 *   still says its own name in Host);
 * - a state-changing call (anything but GET/HEAD) from a browser: an `Origin` or `Sec-Fetch-Site`
 *   header present;
 * - a state-changing call with a content type a cross-site form or no-cors fetch can send without
 *   a preflight (form-urlencoded, multipart/form-data, text/plain).
 * `curl -X POST localhost:9090/admin/purge?all=true` (no Origin, no body) keeps working.
 */
export function browserRefusal(token: string | undefined, req: IncomingMessage): string | undefined {
  if (hasToken(token, req.headers.authorization)) return undefined;
  if (!isLoopbackHost(req.headers.host)) return 'admin endpoints answer only Host: localhost / a loopback address without the admin token';
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return undefined;
  if (req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined) return 'state-changing admin calls from a browser need the admin token';
  const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (simpleContentTypes.has(type)) return 'state-changing admin calls need the admin token or a non-form content type';
  return undefined;
}

const simpleContentTypes = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true; // HTTP/1.0 without Host: no browser sends that
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

function hasToken(token: string | undefined, authorization: string | undefined): boolean {
  if (token === undefined) return false;
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (!match) return false;
  const a = Buffer.from(match[1] as string);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Loopback callers always; others only with `Authorization: Bearer <adminToken>` when one is set. */
export function isAdminAuthorized(token: string | undefined, remoteAddress: string | undefined, authorization: string | undefined): boolean {
  const remote = (remoteAddress ?? '').replace(/^::ffff:/, '');
  if (remote === '::1' || /^127\.\d+\.\d+\.\d+$/.test(remote)) return true;
  return hasToken(token, authorization);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
