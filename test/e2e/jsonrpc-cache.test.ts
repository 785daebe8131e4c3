// JSON-RPC through the proxy: ids are the client's, batches come back in the client's order,
// identical calls coalesce, latest reads are pinned to the head, writes go to the primary only.
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { gunzipSync } from 'node:zlib';
import { startJsonRpcNode, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

const TO = '0x00000000000000000000000000000000000000aa';
const ADDR = '0x00000000000000000000000000000000000000bb';

async function setup(t: TapTest, flavor: 'evm' | 'neo', opts: { latencyMs?: number; replica?: boolean } = {}) {
  const primary = await startJsonRpcNode({ flavor, latencyMs: opts.latencyMs });
  const replica = opts.replica ? await startJsonRpcNode({ flavor, latencyMs: opts.latencyMs }) : undefined;
  t.teardown(() => Promise.all([primary.close(), replica?.close()]));
  const dialect = flavor === 'evm' ? 'evm-jsonrpc' : 'neo-jsonrpc';
  const proxy = await startTestProxy(`
upstreams:
  chain:
    dialect: ${dialect}
    primary: ${primary.url}
    replicas: [${replica ? replica.url : ''}]
    finalityDepth: 0
    head: { pollIntervalMs: 60000 }
routes:
  - match: { pathPrefix: / }
    upstream: chain
`);
  t.teardown(() => proxy.close());
  primary.resetCalls();
  replica?.resetCalls();
  return { proxy, primary, replica };
}

const rpc = (url: string, body: object, headers: Record<string, string> = {}) => request(url, { method: 'POST', body, headers });

t.test('a herd of 200 identical eth_call costs one upstream call; each client gets its own id', async (t) => {
  const { proxy, primary } = await setup(t, 'evm', { latencyMs: 50 });
  const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'eth_call', params: [{ to: TO, data: '0x70a08231' }, 'latest'] });
  const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => rpc(proxy.url, call(i + 1))));
  t.equal(primary.calls.rpc, 1, 'one upstream call');
  const results = new Set<string>();
  responses.forEach((r, i) => {
    const body = r.json<{ id: number; result: string }>();
    t.equal(body.id, i + 1);
    results.add(body.result);
  });
  t.equal(results.size, 1, 'the same answer for all');
  t.match(primary.requests[0]?.params, [{ to: TO }, /^0x[0-9a-f]+$/], 'latest was sent pinned to the head');
});

t.test('a batch comes back in the client order with the client ids, even duplicated ones', async (t) => {
  const { proxy, primary } = await setup(t, 'evm');
  const head = `0x${primary.head.toString(16)}`;
  const batch = [
    { jsonrpc: '2.0', id: 1234, method: 'eth_getBalance', params: [ADDR, head] },
    { jsonrpc: '2.0', id: 1234, method: 'eth_chainId', params: [] },
    { jsonrpc: '2.0', id: 'x', method: 'eth_getBalance', params: [ADDR, '0x1'] },
    { jsonrpc: '2.0', id: null, method: 'eth_blockNumber', params: [] },
  ];
  const first = await rpc(proxy.url, batch);
  const direct = await rpc(primary.url, batch);
  t.same(first.json(), direct.json(), 'the same answer as the node itself');
  const second = await rpc(proxy.url, batch);
  t.same(second.json(), direct.json());
  t.equal(second.header('x-cache'), 'HIT');
  const oneElement = await rpc(proxy.url, [batch[0]]);
  t.same(oneElement.json(), [direct.json<unknown[]>()[0]], 'a one-element batch is answered as a batch');
});

t.test('a batch that mixes reads with a write sends the write, and only it, to the primary', async (t) => {
  const { proxy, primary, replica } = await setup(t, 'evm', { replica: true });
  const res = await rpc(proxy.url, [
    { jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [ADDR, 'latest'] },
    { jsonrpc: '2.0', id: 2, method: 'eth_sendRawTransaction', params: ['0xf86c0a85'] },
  ]);
  const body = res.json<Array<{ id: number; result?: string }>>();
  t.same(body.map((b) => b.id), [1, 2]);
  t.same([...primary.calls.byMethod.keys()], ['eth_sendRawTransaction'], 'primary got only the write');
  t.same([...(replica?.calls.byMethod.keys() ?? [])], ['eth_getBalance'], 'replica got only the read');
});

t.test('errors: malformed JSON, invalid envelope, invalid element in a batch', async (t) => {
  const { proxy } = await setup(t, 'evm');
  const bad = await request(proxy.url, { method: 'POST', body: '{"jsonrpc":', headers: { 'content-type': 'application/json' } });
  t.equal(bad.status, 400);
  t.match(bad.json(), { jsonrpc: '2.0', id: null, error: { code: -32700 } });
  const empty = await rpc(proxy.url, []);
  t.match(empty.json(), { error: { code: -32600 } });
  const mixed = await rpc(proxy.url, [5, { jsonrpc: '2.0', id: 7, method: 'eth_chainId', params: [] }]);
  const items = mixed.json<Array<{ id: unknown; error?: { code: number }; result?: string }>>();
  t.match(items[0], { id: null, error: { code: -32600 } });
  t.match(items[1], { id: 7, result: /^0x/ });
  const tooBig = await request(proxy.url, { method: 'POST', body: Buffer.alloc(2_000_000, 32), headers: { 'content-type': 'application/json' } });
  t.equal(tooBig.status, 413);
  t.match(tooBig.json(), { error: { code: -32600 } });
});

t.test('null results and node errors are not cached', async (t) => {
  const { proxy, primary } = await setup(t, 'evm');
  const q = { jsonrpc: '2.0', id: 1, method: 'eth_getTransactionByHash', params: [`0x${'ee'.repeat(32)}`] };
  t.equal((await rpc(proxy.url, q)).json<{ result: unknown }>().result, null);
  await rpc(proxy.url, q);
  t.equal(primary.calls.rpc, 2, 'null was not cached');
  const unknown = { jsonrpc: '2.0', id: 2, method: 'eth_getBlockByNumber', params: ['0xffffff', false] };
  await rpc(proxy.url, unknown);
  await rpc(proxy.url, unknown);
  t.equal(primary.calls.rpc, 4, 'a null block above the head was not cached');
});

t.test('gzip: a cached JSON-RPC result is spliced with the client id without recompressing', async (t) => {
  const { proxy } = await setup(t, 'evm');
  const q = (id: number) => ({ jsonrpc: '2.0', id, method: 'eth_getBlockByNumber', params: ['0x1', true] });
  const plain = await rpc(proxy.url, q(1));
  const zipped = await rpc(proxy.url, q(99), { 'accept-encoding': 'gzip' });
  const body = JSON.parse(gunzipSync(zipped.body).toString()) as { id: number; result: unknown };
  t.equal(body.id, 99);
  t.same(body.result, plain.json<{ result: unknown }>().result);
});

t.test('neo: invokefunction is keyed by the head; an iterator session is never cached', async (t) => {
  const { proxy, primary } = await setup(t, 'neo');
  const invoke = { jsonrpc: '2.0', id: 1234, method: 'invokefunction', params: ['0xd2a4cff31913016155e38e474a2c06d08be276cf', 'balanceOf', []] };
  const a = await rpc(proxy.url, invoke);
  const b = await rpc(proxy.url, invoke);
  t.equal(b.header('x-cache'), 'HIT');
  t.same(a.json(), b.json());
  primary.advance(1);
  await proxy.state.runtime.groups.get('chain')?.heads.pollAll();
  await new Promise((r) => setTimeout(r, 1100));
  const c = await rpc(proxy.url, invoke);
  t.equal(c.header('x-cache'), 'MISS', 'a new head snapshot is a new key');
  primary.resetCalls();
  const iter = { jsonrpc: '2.0', id: 1, method: 'invokefunction', params: ['0xd2a4cff31913016155e38e474a2c06d08be276cf', 'tokensOf', []] };
  await rpc(proxy.url, iter);
  await rpc(proxy.url, iter);
  t.equal(primary.calls.rpc, 2, 'session results are not cached');
});
