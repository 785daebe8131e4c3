// A known traffic mix against exact counter values: one miss per request whose shortcut entry
// expired, no coalescing counted for session-opening calls that each reached the node, head probes
// outside upstream_requests_total, and the series alert rules read present at 0 from start-up.
import t from 'tap';
import { registry } from '../../src/metrics/metrics.js';
import { APTOS_ACCOUNTS, APTOS_COIN, BALANCE_VIEW_FUNCTION, startAptosNode } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { NEO_ITERATOR_OPERATION, startJsonRpcNode } from '../support/jsonrpc-node.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { waitUntil } from '../support/redis-server.js';

/** Sum of a metric over the series whose labels include `want` (label order does not matter). */
async function value(name: string, want: Record<string, string> = {}): Promise<number | undefined> {
  let sum: number | undefined;
  for (const line of (await registry.metrics()).split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

t.test('series the alert rules use exist at 0 from start-up', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  primed: { dialect: evm-jsonrpc, primary: ${node.url} }
routes:
  - match: { pathPrefix: / }
    upstream: primed
    name: primedroute
cache:
  redis: { url: "redis://127.0.0.1:6379", prefix: "lp-primed:", commandTimeoutMs: 200 }
`);
  t.teardown(() => proxy.close());
  t.equal(await value('ledgerproxy_requests_total', { route: 'primedroute', status: '5xx' }), 0, 'requests_total{status=5xx}');
  t.equal(await value('ledgerproxy_requests_total', { route: 'primedroute', cache: 'hit' }), 0, 'requests_total{cache=hit}');
  t.equal(await value('ledgerproxy_upstream_retries_total', { group: 'primed' }), 0);
  t.equal(await value('ledgerproxy_coalesced_calls_total', { group: 'primed' }), 0);
  t.equal(await value('ledgerproxy_upstream_requests_total', { group: 'primed', node: 'primary', outcome: 'error' }), 0);
  t.ok((await value('ledgerproxy_cache_evictions_total', { tier: 'memory' })) !== undefined, 'cache_evictions_total');
  t.ok((await value('ledgerproxy_cache_errors_total', { tier: 'redis', op: 'get' })) !== undefined, 'cache_errors_total');
  t.ok((await value('ledgerproxy_redis_write_errors_total', { reason: 'oom' })) !== undefined, 'redis_write_errors_total');
});

t.test('head probes are counted apart from traffic', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  probed: { dialect: evm-jsonrpc, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: / }
    upstream: probed
`);
  t.teardown(() => proxy.close());
  const traffic = await value('ledgerproxy_upstream_requests_total', { group: 'probed' });
  const probes = await value('ledgerproxy_head_probes_total', { group: 'probed' });
  await proxy.state.runtime.groups.get('probed')?.heads.pollAll();
  await proxy.state.runtime.groups.get('probed')?.heads.pollAll();
  t.equal(await value('ledgerproxy_upstream_requests_total', { group: 'probed' }), traffic, 'polls are not traffic');
  t.equal((await value('ledgerproxy_head_probes_total', { group: 'probed' }))! - probes!, 2, 'two probes');
  await request(proxy.url, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['0x2', false] } });
  t.equal((await value('ledgerproxy_upstream_requests_total', { group: 'probed', outcome: 'ok' }))! - traffic!, 1, 'one request of traffic');
});

t.test('an expired shortcut entry counts one memory miss for its request', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  shortcut: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: shortcut
    cache: { ttlMs: { immutable: 1000 } }
`);
  t.teardown(() => proxy.close());
  const view = () => request(`${proxy.url}/v1/view?ledger_version=5`, { method: 'POST', body: { function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [APTOS_ACCOUNTS.bob] } });
  t.equal((await view()).header('x-cache'), 'MISS');
  const filled = Date.now();
  t.equal((await view()).header('x-cache'), 'HIT', 'an L1 hit on the full path, which the shortcut remembers (the next request looks up through it)');
  // A TTL of 1 s, not 300 ms: the HIT right after the fill must land inside it on a loaded machine.
  await waitUntil(() => Date.now() > filled + 1050, 3000, 'entry expired');
  const misses = await value('ledgerproxy_cache_lookups_total', { tier: 'memory', result: 'miss' });
  t.equal((await view()).header('x-cache'), 'MISS');
  t.equal((await value('ledgerproxy_cache_lookups_total', { tier: 'memory', result: 'miss' }))! - misses!, 1, 'exactly one miss');
});

t.test('11 concurrent session-opening calls that all reach the node count no coalescing', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'neo', latencyMs: 50 });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  sessions: { dialect: neo-jsonrpc, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: / }
    upstream: sessions
`);
  t.teardown(() => proxy.close());
  const before = await value('ledgerproxy_coalesced_calls_total', { group: 'sessions' });
  node.resetCalls();
  const body = { jsonrpc: '2.0', id: 1, method: 'invokefunction', params: ['0xd2a4cff31913016155e38e474a2c06d08be276cf', NEO_ITERATOR_OPERATION, []] };
  const answers = await Promise.all(Array.from({ length: 11 }, () => request(proxy.url, { method: 'POST', body })));
  t.same([...new Set(answers.map((a) => a.status))], [200]);
  t.equal(node.calls.byMethod.get('invokefunction'), 11, 'every call reached the node (own sessions)');
  t.equal((await value('ledgerproxy_coalesced_calls_total', { group: 'sessions' }))! - before!, 0, 'none counted as coalesced');
});

t.test('a notification-only request: 204 without content-length', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  notify: { dialect: evm-jsonrpc, primary: ${node.url} }
routes:
  - match: { pathPrefix: / }
    upstream: notify
`);
  t.teardown(() => proxy.close());
  const res = await request(proxy.url, { method: 'POST', body: { jsonrpc: '2.0', method: 'eth_blockNumber', params: [] } });
  t.equal(res.status, 204);
  t.equal(res.headers['content-length'], undefined, 'RFC 9110: no content-length on 204');
  t.equal(res.body.length, 0);
});

t.test('a batch counts each call once under its own call name and cache result, however many series it mixes', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  mixed: { dialect: evm-jsonrpc, primary: ${node.url} }
routes:
  - match: { pathPrefix: / }
    upstream: mixed
    name: mixedroute
`);
  t.teardown(() => proxy.close());
  const methods: Array<[string, unknown[]]> = [
    ['eth_chainId', []], ['eth_gasPrice', []], ['eth_getBlockByNumber', ['0x1', false]], ['eth_maxPriorityFeePerGas', []],
    ['eth_getBalance', ['0x00000000000000000000000000000000000000aa', '0x1']],
    ['eth_getTransactionCount', ['0x00000000000000000000000000000000000000aa', '0x1']],
    ['eth_getCode', ['0x00000000000000000000000000000000000000aa', '0x1']],
    ['eth_getStorageAt', ['0x00000000000000000000000000000000000000aa', '0x0', '0x1']],
    ['eth_call', [{ to: '0x00000000000000000000000000000000000000aa', data: '0x' }, '0x1']],
    ['eth_getBlockTransactionCountByNumber', ['0x1']],
  ];
  const batch = (ids: number) => JSON.stringify(methods.flatMap(([method, params], i) => Array.from({ length: ids }, (_, k) => ({ jsonrpc: '2.0', id: i * 10 + k, method, params }))));
  const post = (body: string) => request(`${proxy.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const before = new Map<string, number>();
  for (const [method] of methods) for (const cache of ['miss', 'coalesced', 'hit']) before.set(`${method} ${cache}`, (await value('ledgerproxy_calls_total', { group: 'mixed', call: method, cache })) ?? 0);
  // 10 methods x 3 calls each: the first of each misses, its twins ride on it; then all 30 again, hits.
  t.equal((await post(batch(3))).status, 200);
  t.equal((await post(batch(3))).status, 200);
  let sum = 0;
  for (const [method] of methods) {
    const counted = async (cache: string) => ((await value('ledgerproxy_calls_total', { group: 'mixed', call: method, cache })) ?? 0) - (before.get(`${method} ${cache}`) ?? 0);
    const [miss, coalesced, hit] = [await counted('miss'), await counted('coalesced'), await counted('hit')];
    t.equal(miss + coalesced, 3, `${method}: the first batch's three calls`);
    t.equal(hit, 3, `${method}: the second batch's three calls, all hits`);
    sum += miss + coalesced + hit;
  }
  t.equal(sum, 60, 'every call counted once');
});
