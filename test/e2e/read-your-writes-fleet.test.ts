// Two proxy instances sharing one Redis (their own redis-server, so it can be killed): the floor
// one instance learned is honoured by the other; with Redis dead both keep serving. Head polls are
// slow (60 s) so that nothing but the shared floor can move instance B's head in time.
import t from 'tap';
import { registry } from '../../src/metrics/metrics.js';
import { startGanache } from '../support/ganache-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';
import { startRedis, waitUntil } from '../support/redis-server.js';

const node = await startGanache();
t.teardown(() => node.close());
const redis = await startRedis();
t.teardown(() => redis.stop());
const prefix = `rywfleet${process.pid}:`;

const yaml = `
upstreams:
  evm:
    dialect: evm-jsonrpc
    primary: ${node.url}
    head: { pollIntervalMs: 60000 }
routes:
  - name: nocache
    match: { pathPrefix: /nocache }
    upstream: evm
    cache: { enabled: false }
  - match: { pathPrefix: / }
    upstream: evm
cache:
  redis: { url: "${redis.url}", prefix: "${prefix}", commandTimeoutMs: 100, connectTimeoutMs: 500 }
`;
const a = await startTestProxy(yaml);
const b = await startTestProxy(yaml);
t.teardown(async () => { await a.close(); await b.close(); });

async function call(proxy: TestProxy, path: string, method: string, params: unknown[]): Promise<{ status: number; result: unknown; servedFor: bigint | undefined }> {
  const res = await request(`${proxy.url}${path}`, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method, params } });
  const header = res.header('x-ledgerproxy-version');
  return { status: res.status, result: (JSON.parse(res.body.toString('utf8')) as { result?: unknown }).result, servedFor: header === undefined ? undefined : BigInt(header) };
}
const floorOf = (p: TestProxy) => p.state.runtime.groups.get('evm')!.floor.value;
const rich = '0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1';

t.test('the floor learned on one instance is honoured by the other', async (t) => {
  await waitUntil(() => b.state.runtime.sharedFloor !== undefined, 5000, 'shared floor');
  // Both have cached a latest read at the old head.
  const before = await call(b, '/', 'eth_getBalance', [rich, 'latest']);
  await node.mine(3);
  const shown = BigInt((await call(a, '/nocache', 'eth_blockNumber', [])).result as string);
  t.ok(before.servedFor !== undefined && before.servedFor < shown, 'B answered for an older head before');
  await waitUntil(() => (floorOf(b) ?? 0n) >= shown, 3000, 'B adopts the floor A showed');
  const after = await call(b, '/', 'eth_getBalance', [rich, 'latest']);
  t.ok(after.servedFor !== undefined && after.servedFor >= shown, `B answers latest for ${after.servedFor} >= ${shown}`);
  const latest = await call(b, '/', 'eth_getBlockByNumber', ['latest', false]);
  t.ok(BigInt((latest.result as { number: string }).number) >= shown, 'B\'s latest block is not older than what A showed');
});

t.test('Redis killed: both instances keep serving, the floor stays per instance, the failure is counted', async (t) => {
  await redis.kill();
  const errorsBefore = await sharedErrors();
  await node.mine(2);
  const shown = BigInt((await call(a, '/nocache', 'eth_blockNumber', [])).result as string);
  for (const p of [a, b]) {
    const r = await call(p, '/', 'eth_getBalance', [rich, 'latest']);
    t.equal(r.status, 200, 'served');
    t.type(r.result, 'string');
  }
  const onA = await call(a, '/', 'eth_getBalance', [rich, 'latest']);
  t.ok(onA.servedFor !== undefined && onA.servedFor >= shown, 'A still honours its own floor');
  await waitUntil(async () => (await sharedErrors()) > errorsBefore, 3000, 'failure counted');
  await redis.start();
});

async function sharedErrors(): Promise<number> {
  const metric = await registry.getSingleMetricAsString('ledgerproxy_shared_floor_errors_total');
  return [...metric.matchAll(/^ledgerproxy_shared_floor_errors_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}
