// The shared L2: a fleet of proxies fills once, and Redis is never in the way when it dies.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { startAptosNode, APTOS_ACCOUNTS, BALANCE_VIEW_FUNCTION, APTOS_COIN } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { startRedis, waitUntil } from '../support/redis-server.js';

const viewBody = { function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [APTOS_ACCOUNTS.bob] };

function config(nodeUrl: string, redisUrl: string, prefix: string): string {
  return `
upstreams:
  aptos: { dialect: aptos-rest, primary: ${nodeUrl}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
cache:
  redis: { url: "${redisUrl}", prefix: "${prefix}", commandTimeoutMs: 100 }
`;
}

t.test('two proxies sharing one Redis: filled through one, a HIT through the other', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const prefix = `lp-test-${randomBytes(4).toString('hex')}:`;
  const a = await startTestProxy(config(node.url, 'redis://127.0.0.1:6379', prefix));
  const b = await startTestProxy(config(node.url, 'redis://127.0.0.1:6379', prefix));
  t.teardown(async () => {
    await a.state.cache.purge('');
    await Promise.all([a.close(), b.close()]);
  });
  node.resetCalls();
  const first = await request(`${a.url}/v1/view?ledger_version=321`, { method: 'POST', body: viewBody });
  t.equal(first.header('x-cache'), 'MISS');
  await a.state.cache.flush();
  const second = await request(`${b.url}/v1/view?ledger_version=321`, { method: 'POST', body: viewBody });
  t.equal(second.header('x-cache'), 'HIT', 'served from the shared tier');
  t.equal(second.text(), first.text());
  t.equal(node.calls.total, 1, 'one upstream call for the fleet');
});

t.test('Redis killed during a run: every request succeeds; after it returns, L2 is used again', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(config(node.url, redis.url, 'lp-kill:'));
  t.teardown(() => proxy.close());
  const statuses: number[] = [];
  const run = async (from: number, to: number) => {
    for (let v = from; v < to; v++) {
      const res = await request(`${proxy.url}/v1/view?ledger_version=${v}`, { method: 'POST', body: viewBody, timeoutMs: 2000 });
      statuses.push(res.status);
    }
  };
  await run(100, 120);
  await redis.kill();
  await run(120, 160);
  t.same([...new Set(statuses)], [200], 'no client request failed while Redis was dead');
  await redis.start();
  await waitUntil(async () => proxy.state.cache.remote !== undefined && (proxy.state.cache.remote as { connected?: boolean }).connected === true, 10_000, 'reconnect');
  await run(200, 201);
  await proxy.state.cache.flush();
  // A fresh proxy with an empty L1 finds the entry in Redis: L2 is in use again.
  const other = await startTestProxy(config(node.url, redis.url, 'lp-kill:'));
  t.teardown(() => other.close());
  const hit = await request(`${other.url}/v1/view?ledger_version=200`, { method: 'POST', body: viewBody });
  t.equal(hit.header('x-cache'), 'HIT');
});
