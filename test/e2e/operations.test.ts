// Issue 4's operational behaviour against a real proxy process-in-test: metrics count real
// traffic, readiness follows the nodes, SIGTERM-style drain lets a slow request finish, reload
// keeps the old config when the new one is bad and keeps the cache either way.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startAptosNode, APTOS_ACCOUNTS } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

function config(nodeUrl: string, extra = ''): string {
  return `
server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  shutdown: { drainDelayMs: 200, deadlineMs: 5000 }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${nodeUrl}, health: { ejectAfterFailures: 1, probeIntervalMs: 100 }, head: { pollIntervalMs: 100 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
${extra}`;
}

t.test('metrics count real traffic on the admin port', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(config(node.url));
  t.teardown(() => proxy.close());
  const url = `${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources?ledger_version=10`;
  await request(url);
  await request(url);
  const metrics = (await request(`${proxy.adminUrl}/metrics`)).text();
  t.match(metrics, /ledgerproxy_requests_total\{route="aptos",dialect="aptos-rest",cache="hit",status="2xx"\} [1-9]/);
  t.match(metrics, /ledgerproxy_requests_total\{route="aptos",dialect="aptos-rest",cache="miss",status="2xx"\} [1-9]/);
  t.match(metrics, /ledgerproxy_upstream_requests_total\{group="aptos",node="primary",outcome="ok"\} [1-9]/);
  t.match(metrics, /ledgerproxy_node_healthy\{group="aptos",node="primary"\} 1/);
  t.match(metrics, /ledgerproxy_node_head\{group="aptos",node="primary"\} \d+/);
  t.match(metrics, /ledgerproxy_process_resident_memory_bytes \d+/);
  t.match(metrics, /ledgerproxy_cache_entries\{tier="memory"\} [1-9]/);
  const traffic = await request(`${proxy.url}/metrics`);
  t.equal(traffic.status, 404, 'metrics are not on the traffic port');
});

t.test('readiness flips when the only node dies and comes back', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(config(node.url));
  t.teardown(() => proxy.close());
  t.equal((await request(`${proxy.adminUrl}/readyz`)).status, 200);
  await node.kill();
  await waitFor(async () => (await request(`${proxy.adminUrl}/readyz`)).status === 503);
  const down = await request(`${proxy.adminUrl}/readyz`);
  t.match(down.json(), { ready: false, reason: /aptos/ });
  t.equal((await request(`${proxy.adminUrl}/healthz`)).status, 200, 'still alive');
  await node.restart();
  await waitFor(async () => (await request(`${proxy.adminUrl}/readyz`)).status === 200);
  t.pass('ready again after the node returned');
});

t.test('drain: a slow request in flight at shutdown completes with 200', async (t) => {
  const node = await startAptosNode({ latencyMs: 600 });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(config(node.url));
  const inFlight = request(`${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}?ledger_version=5`);
  await new Promise((r) => setTimeout(r, 100));
  const shutdown = proxy.running.shutdown();
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await request(`${proxy.adminUrl}/readyz`)).status, 503, 'not ready while draining');
  const res = await inFlight;
  t.equal(res.status, 200, 'the in-flight request finished');
  await shutdown;
  await t.rejects(request(`${proxy.url}/v1`, { timeoutMs: 1000 }), 'no longer accepting');
});

t.test('reload: a bad file is refused and the old config keeps running; the cache survives', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const dir = mkdtempSync(join(tmpdir(), 'lp-reload-'));
  const file = join(dir, 'proxy.config.yaml');
  writeFileSync(file, config(node.url));
  const proxy = await startTestProxy(config(node.url), { configFile: file });
  t.teardown(() => proxy.close());
  const url = `${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources?ledger_version=20`;
  t.equal((await request(url)).header('x-cache'), 'MISS');
  writeFileSync(file, `${config(node.url)}\nbogus: 1\n`);
  const bad = await request(`${proxy.adminUrl}/admin/reload`, { method: 'POST' });
  t.equal(bad.status, 400);
  t.match(bad.json(), { ok: false, error: /bogus.*unknown key/ });
  t.equal((await request(url)).header('x-cache'), 'HIT', 'old config still serving');
  writeFileSync(file, config(node.url).replace('  - match:', '  - name: renamed\n    match:'));
  const good = await request(`${proxy.adminUrl}/admin/reload`, { method: 'POST' });
  t.equal(good.status, 200);
  t.equal(proxy.state.runtime.routes[0]?.label, 'renamed', 'new config in force');
  t.equal((await request(url)).header('x-cache'), 'HIT', 'cache survived the reload');
});

t.test('purge by prefix and all', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(config(node.url));
  t.teardown(() => proxy.close());
  const url = `${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources?ledger_version=30`;
  await request(url);
  t.equal((await request(url)).header('x-cache'), 'HIT');
  const purged = await request(`${proxy.adminUrl}/admin/purge?prefix=aptos:`, { method: 'POST' });
  t.equal(purged.status, 200);
  t.ok(purged.json<{ purged: { memory: number } }>().purged.memory >= 1);
  t.equal((await request(url)).header('x-cache'), 'MISS');
  t.equal((await request(`${proxy.adminUrl}/admin/purge`, { method: 'POST' })).status, 400, 'needs a prefix or all');
  t.equal((await request(`${proxy.adminUrl}/admin/purge?all=true`, { method: 'POST' })).status, 200);
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
