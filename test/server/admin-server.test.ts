// The admin port on a real listener, with a ProxyState built from config (not started: node heads
// and health are set by hand, so readiness is deterministic).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { identityEntry } from '../../src/cache/policy.js';
import { parseConfigText } from '../../src/config/load.js';
import { logger } from '../../src/log.js';
import { createAdminServer, isAdminAuthorized, type AdminActions } from '../../src/server/admin-server.js';
import { ProxyState } from '../../src/server/state.js';
import { recordFailure } from '../../src/upstream/health.js';
import type { UpstreamNode } from '../../src/upstream/node.js';
import { request } from '../support/http-client.js';

const TOKEN = 'admin-token-0123456789abcdef';

function yaml(adminToken?: string): string {
  return `
server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
${adminToken ? `  adminToken: ${adminToken}\n` : ''}upstreams:
  aptos:
    dialect: aptos-rest
    primary: http://127.0.0.1:9
    replicas: [http://127.0.0.1:9]
    health: { ejectAfterFailures: 1, openMs: 600000 }
  evm:
    dialect: evm-jsonrpc
    primary: http://127.0.0.1:9
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
  - match: { pathPrefix: /evm }
    upstream: evm
`;
}


async function admin(t: Test, opts: { token?: string; host?: string; actions?: AdminActions } = {}) {
  const log = logger.child({ test: 'admin' });
  log.level = 'silent';
  const state = new ProxyState(parseConfigText(yaml(opts.token), 'admin-test'), log);
  const server: Server = createAdminServer(state, opts.actions ?? { reload: async () => ({ ok: true }) });
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? '127.0.0.1', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await state.close();
  });
  const port = (server.address() as AddressInfo).port;
  const group = (name: string) => {
    const g = state.runtime.groups.get(name);
    if (!g) throw new Error(`no group ${name}`);
    return g;
  };
  return { state, port, url: `http://127.0.0.1:${port}`, group };
}

/** Can this machine listen on ::1? */
const ipv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

function markReady(group: { set: { all: readonly UpstreamNode[] } }): void {
  for (const n of group.set.all) n.noteHead(100n, Date.now());
}

t.test('/healthz is always ok, even while draining', async (t) => {
  const { url, state } = await admin(t);
  const res = await request(`${url}/healthz`);
  t.equal(res.status, 200);
  t.same(res.json(), { status: 'ok' });
  t.equal(res.header('content-type'), 'application/json');
  t.equal(res.header('cache-control'), 'no-store');
  state.draining = true;
  t.equal((await request(`${url}/healthz`)).status, 200, 'liveness does not follow draining');
  t.equal((await request(`${url}/healthz?probe=1`)).status, 200, 'a query string is ignored');
});

t.test('/readyz: 503 until every group has a node with a known head', async (t) => {
  const { url, group } = await admin(t);
  let res = await request(`${url}/readyz`);
  t.equal(res.status, 503);
  t.match(res.json(), { ready: false, reason: /aptos.*evm|evm.*aptos/ });
  markReady(group('aptos'));
  res = await request(`${url}/readyz`);
  t.equal(res.status, 503);
  const reason = res.json<{ reason: string }>().reason;
  t.match(reason, /evm/, 'names the group still down');
  t.notMatch(reason, /aptos/, 'not the one that is up');
  markReady(group('evm'));
  res = await request(`${url}/readyz`);
  t.equal(res.status, 200);
  t.same(res.json(), { ready: true });
});

t.test('/readyz: a group whose only nodes with a head are out of rotation is not ready', async (t) => {
  const { url, group } = await admin(t);
  markReady(group('aptos'));
  markReady(group('evm'));
  t.equal((await request(`${url}/readyz`)).status, 200);
  const aptos = group('aptos');
  for (const n of aptos.set.all) recordFailure(n, Date.now(), 503);
  t.ok(aptos.set.all.every((n) => !n.healthy), 'every aptos node ejected');
  const res = await request(`${url}/readyz`);
  t.equal(res.status, 503);
  t.match(res.json(), { ready: false, reason: /aptos/ });
});

t.test('/readyz: 503 "draining" once draining', async (t) => {
  const { url, state, group } = await admin(t);
  markReady(group('aptos'));
  markReady(group('evm'));
  state.draining = true;
  const res = await request(`${url}/readyz`);
  t.equal(res.status, 503);
  t.same(res.json(), { ready: false, reason: 'draining' });
});

t.test('/metrics is the Prometheus text', async (t) => {
  const { url } = await admin(t);
  const res = await request(`${url}/metrics`);
  t.equal(res.status, 200);
  t.match(res.header('content-type'), /^text\/plain/);
  t.match(res.text(), /^# HELP /m);
});

t.test('/admin/status: groups, nodes, cache and flights', async (t) => {
  const { url, group, state } = await admin(t);
  group('aptos').set.replicas[0]?.noteHead(1234n, Date.now());
  const res = await request(`${url}/admin/status`);
  t.equal(res.status, 200);
  const body = res.json<Record<string, unknown>>();
  t.match(body, {
    draining: false,
    groups: [
      {
        name: 'aptos',
        dialect: 'aptos-rest',
        head: '1234',
        nodes: [
          { name: 'primary', role: 'primary', healthy: true, inflight: 0, consecutiveFailures: 0, breaker: 'closed' },
          { name: 'replica-0', role: 'replica', healthy: true, head: '1234', inflight: 0 },
        ],
      },
      { name: 'evm', dialect: 'evm-jsonrpc', nodes: [{ name: 'primary', role: 'primary' }] },
    ],
    cache: { memory: { entries: 0, bytes: 0, maxBytes: Number }, redis: false },
    inflightCalls: 0,
  });
  const groups = body.groups as Array<{ head?: string; nodes: Array<Record<string, unknown>> }>;
  t.equal(groups.length, 2);
  t.equal(groups[0]?.nodes.length, 2);
  t.equal(groups[1]?.head, undefined, 'no head known for evm');
  t.notMatch(res.text(), /127\.0\.0\.1:9/, 'node URLs (which may hold credentials) are not shown');
  // In-flight coalesced calls are counted.
  const leader = state.flights.lead('aptos:view:x');
  t.equal((await request(`${url}/admin/status`)).json<{ inflightCalls: number }>().inflightCalls, 1);
  leader.fail(new Error('done'));
});

t.test('/admin/purge', async (t) => {
  const { url, state } = await admin(t);
  const now = Date.now();
  const entry = { ...identityEntry(200, [['content-type', 'application/json']], Buffer.from('{}'), now), expiresAt: now + 60_000 };
  await state.cache.set('aptos:view:k1', entry);
  await state.cache.set('aptos:account:k2', entry);
  await state.cache.set('evm:eth_call:k3', entry);
  let res = await request(`${url}/admin/purge`, { method: 'POST' });
  t.equal(res.status, 400, 'neither prefix nor all');
  res = await request(`${url}/admin/purge?prefix=aptos:view:`, { method: 'POST' });
  t.equal(res.status, 200);
  t.same(res.json(), { purged: { memory: 1, remote: 0 } });
  res = await request(`${url}/admin/purge?all=true`, { method: 'POST' });
  t.same(res.json(), { purged: { memory: 2, remote: 0 } });
  t.equal(state.cache.memory.size, 0);
});

t.test('/admin/reload calls the reload action', async (t) => {
  let calls = 0;
  let next: { ok: boolean; error?: string } = { ok: true };
  const { url } = await admin(t, { actions: { reload: async () => (calls++, next) } });
  let res = await request(`${url}/admin/reload`, { method: 'POST' });
  t.equal(res.status, 200);
  t.same(res.json(), { ok: true });
  next = { ok: false, error: 'bad config' };
  res = await request(`${url}/admin/reload`, { method: 'POST' });
  t.equal(res.status, 400);
  t.same(res.json(), { ok: false, error: 'bad config' });
  t.equal(calls, 2);
});

t.test('a failing admin action is a JSON 500', async (t) => {
  const { url } = await admin(t, { actions: { reload: async () => { throw new Error('kaboom'); } } });
  const res = await request(`${url}/admin/reload`, { method: 'POST' });
  t.equal(res.status, 500);
  t.same(res.json(), { error: 'kaboom' });
});

t.test('unknown paths and wrong methods are JSON 404s', async (t) => {
  const { url } = await admin(t);
  const cases: Array<[string, string]> = [
    ['GET', '/'],
    ['GET', '/nope'],
    ['GET', '/healthz/extra'],
    ['GET', '/admin'],
    ['GET', '/admin/'],
    ['GET', '/admin/nope'],
    ['GET', '/admin/purge'],
    ['GET', '/admin/reload'],
    ['POST', '/admin/status'],
    ['DELETE', '/admin/status'],
  ];
  for (const [method, path] of cases) {
    const res = await request(`${url}${path}`, { method });
    t.equal(res.status, 404, `${method} ${path}`);
    t.same(res.json(), { error: 'not found' }, `${method} ${path} body`);
  }
});

t.test('admin auth: loopback callers need no token', async (t) => {
  const plain = await admin(t);
  t.equal((await request(`${plain.url}/admin/status`)).status, 200, 'no token configured');
  const withToken = await admin(t, { token: TOKEN });
  t.equal((await request(`${withToken.url}/admin/status`)).status, 200, 'token configured, loopback caller');
  t.equal((await request(`${withToken.url}/admin/status`, { headers: { authorization: 'Bearer wrong' } })).status, 200, 'a wrong token from loopback is not held against it');
});

t.test('admin auth: IPv6 loopback is loopback', { skip: ipv6Loopback ? false : 'no IPv6 loopback here' }, async (t) => {
  const a = await admin(t, { host: '::1' });
  const res = await request(`http://[::1]:${a.port}/admin/status`);
  t.equal(res.status, 200);
});

// The token branch needs a non-loopback caller, and tests here only talk over loopback: the
// decision itself is a pure function of (token, caller address, Authorization header).
t.test('admin auth: non-loopback callers need the bearer token', async (t) => {
  const TOKEN_OK = `Bearer ${TOKEN}`;
  t.ok(isAdminAuthorized(undefined, '127.0.0.1', undefined), 'loopback without a token');
  t.ok(isAdminAuthorized(undefined, '127.0.0.2', undefined), 'all of 127/8 is loopback');
  t.ok(isAdminAuthorized(undefined, '::ffff:127.0.0.1', undefined), 'IPv4-mapped loopback');
  t.ok(isAdminAuthorized(undefined, '::1', undefined));
  t.notOk(isAdminAuthorized(undefined, '10.0.0.7', 'Bearer anything-at-all-123'), 'remote and no token configured: refused');
  t.notOk(isAdminAuthorized(TOKEN, '10.0.0.7', undefined), 'no token sent');
  t.notOk(isAdminAuthorized(TOKEN, '10.0.0.7', 'Bearer wrong'), 'wrong token, different length');
  t.notOk(isAdminAuthorized(TOKEN, '10.0.0.7', `Bearer ${TOKEN.slice(0, -1)}X`), 'wrong token, same length');
  t.notOk(isAdminAuthorized(TOKEN, '10.0.0.7', TOKEN), 'the token without the Bearer scheme');
  t.ok(isAdminAuthorized(TOKEN, '10.0.0.7', TOKEN_OK), 'the right token');
  t.ok(isAdminAuthorized(TOKEN, '10.0.0.7', `bearer ${TOKEN}`), 'the scheme is case-insensitive');
});
