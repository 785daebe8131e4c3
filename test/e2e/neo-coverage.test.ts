// Neo N3 reads beyond the old table, against real mock nodes: reads are reads (retried, served by
// replicas, cached when they may be), by-index reads go to a node with that block, head-keyed
// invokes only to nodes at the head, mempool transactions are never immutable, and iterator
// sessions survive a config reload.
import t from 'tap';
import { neoInvokeValue, NEO_ITERATOR_OPERATION, startJsonRpcNode, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';

const CONTRACT = '0xd2a4cff31913016155e38e474a2c06d08be276cf';

function neoConfig(primary: string, replicas: string[]): string {
  return `
upstreams:
  neo: { dialect: neo-jsonrpc, primary: ${primary}, replicas: [${replicas.join(', ')}], head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: / }
    upstream: neo
`;
}

type Rpc = { id: unknown; result?: unknown; error?: { code: number; message: string } };
const rpc = async (proxy: TestProxy, method: string, params: unknown[], id: number | string = 1) => {
  const res = await request(proxy.url, { method: 'POST', body: { jsonrpc: '2.0', id, method, params } });
  return { res, body: res.json<Rpc>() };
};

t.test('gettransactionheight is a read: with the primary dead a healthy replica answers it', async (t) => {
  const [primary, replica] = (await Promise.all([startJsonRpcNode({ flavor: 'neo' }), startJsonRpcNode({ flavor: 'neo' })])) as [JsonRpcNodeHandle, JsonRpcNodeHandle];
  t.teardown(() => replica.close());
  const proxy = await startTestProxy(neoConfig(primary.url, [replica.url]));
  t.teardown(() => proxy.close());
  await primary.close();
  const { res, body } = await rpc(proxy, 'gettransactionheight', [replica.txHashAt(5)]);
  t.equal(res.status, 200);
  t.equal(body.error, undefined);
  t.equal(body.result, 5);
  const again = await rpc(proxy, 'gettransactionheight', [replica.txHashAt(5)]);
  t.equal(again.res.header('x-cache'), 'HIT', 'a found height never changes: cached');
});

t.test('a replica one block behind: verbose getblock by index and head-keyed invokes never reach it', async (t) => {
  const nodes = (await Promise.all([0, 1, 2].map(() => startJsonRpcNode({ flavor: 'neo', head: 1000 })))) as JsonRpcNodeHandle[];
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, lagging, current] = nodes as [JsonRpcNodeHandle, JsonRpcNodeHandle, JsonRpcNodeHandle];
  lagging.setFault({ kind: 'none', lagBy: 1 });
  const proxy = await startTestProxy(neoConfig(primary.url, [lagging.url, current.url]));
  t.teardown(() => proxy.close());
  t.equal(proxy.state.runtime.groups.get('neo')?.set.head, 1000n);

  const blocks = await Promise.all(Array.from({ length: 8 }, (_, i) => rpc(proxy, 'getblock', [1000, true], i)));
  t.same(blocks.map((b) => b.body.error?.code), Array(8).fill(undefined), '8 of 8 verbose getblock 1000 answered');
  t.equal(lagging.calls.byMethod.get('getblock') ?? 0, 0, 'the lagging replica was never asked for a block it lacks');

  const invokes = await Promise.all(Array.from({ length: 6 }, (_, i) => rpc(proxy, 'invokefunction', [CONTRACT, 'balanceOf', [{ type: 'Integer', value: String(i) }]], i)));
  invokes.forEach(({ body }, i) => {
    const value = (body.result as { stack: Array<{ value: string }> }).stack[0]?.value;
    t.equal(value, neoInvokeValue(CONTRACT, 'balanceOf', [{ type: 'Integer', value: String(i) }], 1001), `invoke ${i} answered for block count H+1`);
  });
  t.equal(lagging.calls.byMethod.get('invokefunction') ?? 0, 0, 'keyed by H: never sent to a node below H');
});

t.test('non-verbose getrawtransaction of a mempool transaction is not cached as immutable', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'neo' });
  t.teardown(() => node.close());
  // Exactly the current head: a new block is a new key at once.
  const proxy = await startTestProxy(neoConfig(node.url, []).replace('upstream: neo', 'upstream: neo\n    cache: { maxStaleness: { versions: 0, ms: 0 } }'));
  t.teardown(() => proxy.close());
  const sent = await rpc(proxy, 'sendrawtransaction', [Buffer.from('a transaction').toString('base64')]);
  const hash = (sent.body.result as { hash: string }).hash;
  const first = await rpc(proxy, 'getrawtransaction', [hash]);
  t.equal(first.body.error, undefined, 'answered from the mempool');
  t.ok(first.res.header('x-ledgerproxy-version'), 'keyed by the head, like any head read');
  node.advance();
  await proxy.state.runtime.groups.get('neo')?.heads.pollAll();
  const later = await rpc(proxy, 'getrawtransaction', [hash]);
  t.equal(later.res.header('x-cache'), 'MISS', 'a new head asks the node again (it may have expired or moved)');
});

t.test('an iterator session opened before a config reload is continued on its node after it', async (t) => {
  const nodes = (await Promise.all([0, 1].map(() => startJsonRpcNode({ flavor: 'neo' })))) as JsonRpcNodeHandle[];
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, replica] = nodes as [JsonRpcNodeHandle, JsonRpcNodeHandle];
  const proxy = await startTestProxy(neoConfig(primary.url, [replica.url]));
  t.teardown(() => proxy.close());
  const opened = await rpc(proxy, 'invokefunction', [CONTRACT, NEO_ITERATOR_OPERATION, []]);
  const { session, stack } = opened.body.result as { session: string; stack: Array<{ id: string }> };
  t.equal(replica.calls.byMethod.get('invokefunction'), 1, 'opened on the replica');

  await proxy.state.replaceRuntime(proxy.config);
  const page = await rpc(proxy, 'traverseiterator', [session, stack[0]?.id, 10]);
  t.equal(page.body.error, undefined, 'the session is found after the reload');
  t.equal((page.body.result as unknown[]).length, 5);
  t.equal(replica.calls.byMethod.get('traverseiterator'), 1, 'continued on the node that opened it');
  t.equal(primary.calls.byMethod.get('traverseiterator') ?? 0, 0);
});
