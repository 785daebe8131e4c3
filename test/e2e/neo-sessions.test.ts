// Neo iterator sessions live in one node's memory: the call that continues a session goes to the
// node that opened it, and two clients never share one session through coalescing.
import t from 'tap';
import { startJsonRpcNode, NEO_ITERATOR_OPERATION, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

const CONTRACT = '0xd2a4cff31913016155e38e474a2c06d08be276cf';

interface InvokeAnswer { result: { session: string; stack: Array<{ id: string }> } }

t.test('traverseiterator follows the session to its node; concurrent openers get their own sessions', async (t) => {
  const nodes = await Promise.all([startJsonRpcNode({ flavor: 'neo' }), startJsonRpcNode({ flavor: 'neo' }), startJsonRpcNode({ flavor: 'neo', latencyMs: 30 })]);
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, r0, r1] = nodes as [JsonRpcNodeHandle, JsonRpcNodeHandle, JsonRpcNodeHandle];
  const proxy = await startTestProxy(`
upstreams:
  neo: { dialect: neo-jsonrpc, primary: ${primary.url}, replicas: [${r0.url}, ${r1.url}] }
routes:
  - match: { pathPrefix: / }
    upstream: neo
`);
  t.teardown(() => proxy.close());
  const rpc = (method: string, params: unknown[], id = 1) => request(proxy.url, { method: 'POST', body: { jsonrpc: '2.0', id, method, params } });
  const opened = await Promise.all([0, 1, 2, 3].map((i) => rpc('invokefunction', [CONTRACT, NEO_ITERATOR_OPERATION, []], i)));
  const sessions = opened.map((r) => r.json<InvokeAnswer>().result.session);
  t.equal(new Set(sessions).size, 4, 'four concurrent identical invokes opened four sessions');
  for (const [i, res] of opened.entries()) {
    const { session, stack } = res.json<InvokeAnswer>().result;
    const page = await rpc('traverseiterator', [session, stack[0]?.id, 10], 100 + i);
    const body = page.json<{ id: number; result?: unknown[]; error?: unknown }>();
    t.equal(body.id, 100 + i);
    t.equal(body.error, undefined, `session ${i} was found on its node`);
    t.equal(body.result?.length, 5);
  }
  t.ok(r0.calls.byMethod.get('traverseiterator') ?? 0, 'sessions on replica-0 were continued there');
  t.ok(r1.calls.byMethod.get('traverseiterator') ?? 0, 'sessions on replica-1 were continued there');
  t.equal(primary.calls.byMethod.get('traverseiterator') ?? 0, 0);
});
