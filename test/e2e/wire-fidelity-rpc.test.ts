// Issue 10, JSON-RPC side: for each defect, the node's direct answer and the proxy's answer to the
// same request are the same (status and body, compared as JSON values: the proxy writes the
// envelope's members in its own order). Real HTTP to the mock nodes through a real proxy;
// misbehaviour a real node cannot be made to show comes from the scripted node in front of it.
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { NEO_ITERATOR_OPERATION, startJsonRpcNode, type JsonRpcFlavor, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import { request, type HttpResponse } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { duplicateIds, idNullResults, startScriptedNode, status500RpcError, type ScriptedNode } from '../support/scripted-node.js';

const ADDR = '0x00000000000000000000000000000000000000bb';

interface Setup { node: JsonRpcNodeHandle; front: ScriptedNode; proxyUrl: string; direct: string; proxy: Awaited<ReturnType<typeof startTestProxy>> }

async function setup(t: TapTest, flavor: JsonRpcFlavor = 'evm', extra = ''): Promise<Setup> {
  const node = await startJsonRpcNode({ flavor });
  const front = await startScriptedNode(node.url);
  t.teardown(() => Promise.all([front.close(), node.close()]));
  const proxy = await startTestProxy(`
upstreams:
  chain: { dialect: ${flavor}-jsonrpc, primary: ${front.url}, finalityDepth: 0, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 }, head: { pollIntervalMs: 60000 }${extra} }
routes:
  - match: { pathPrefix: / }
    upstream: chain
`);
  t.teardown(() => proxy.close());
  return { node, front, proxy, proxyUrl: proxy.url, direct: node.url };
}

const post = (url: string, body: string | object) => request(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function both(s: Setup, body: string | object): Promise<[HttpResponse, HttpResponse]> {
  return [await post(s.direct, body), await post(s.proxyUrl, body)];
}

function sameAnswer(t: TapTest, d: HttpResponse, p: HttpResponse, what: string): void {
  t.equal(p.status, d.status, `${what}: status`);
  t.same(p.json(), d.json(), `${what}: body`);
}

const balance = (id: unknown, block: unknown) => ({ jsonrpc: '2.0', id, method: 'eth_getBalance', params: [ADDR, block] });

t.test('defect 3: batch answers are matched by id, strictly; broken answers are never stored', async (t) => {
  const s = await setup(t);
  const batch = [balance(1, '0x5'), balance(2, '0x6')];
  for (const [name, step] of [['id:null result', idNullResults], ['duplicate ids', duplicateIds]] as const) {
    s.front.script(step);
    const broken = await post(s.proxyUrl, batch);
    t.equal(broken.status, 200);
    const els = broken.json<Array<{ id: number; result?: unknown; error?: { code: number } }>>();
    t.same(els.map((e) => e.id), [1, 2], `${name}: the client's ids`);
    t.ok(els.every((e) => e.result === undefined && e.error?.code === -32603), `${name}: no call got a result it cannot be sure is its own`);
  }
  const [d, p] = await both(s, batch);
  sameAnswer(t, d, p, 'after the broken answers');
  t.equal(p.header('x-cache'), 'MISS', 'nothing was stored from them');
  // A lone id:null *error* is the node refusing the whole request: every call gets it.
  s.front.script(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"batch too large"}}') }));
  const refused = await post(s.proxyUrl, [balance(1, '0x7'), balance(2, '0x8')]);
  t.same(refused.json(), [1, 2].map((id) => ({ jsonrpc: '2.0', id, error: { code: -32005, message: 'batch too large' } })));
});

t.test('defect 4: maxResponseBytes bounds each call, not the batch the proxy merged', async (t) => {
  const probe = await startJsonRpcNode({ flavor: 'evm' });
  const one = await post(probe.url, { jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['0x5', true] });
  await probe.close();
  const limit = Math.floor(one.body.length * 1.4);
  const s = await setup(t, 'evm', `, maxResponseBytes: ${limit}`);
  const batch = ['0x5', '0x6', '0x7'].map((b, i) => ({ jsonrpc: '2.0', id: i, method: 'eth_getBlockByNumber', params: [b, true] }));
  const [d, p] = await both(s, batch);
  t.ok(d.body.length > limit, `the merged answer (${d.body.length} B) passes the limit (${limit} B)`);
  sameAnswer(t, d, p, 'every call answered within the limit');
});

t.test('defect 5: only number forms the node treats as equal share a key', async (t) => {
  const s = await setup(t);
  const [d0, p0] = await both(s, balance(1, '0x1'));
  sameAnswer(t, d0, p0, '0x1');
  for (const form of ['0x01', { blockNumber: '0x0001' }, '0X1', '0x1 ']) {
    const [d, p] = await both(s, balance(1, form));
    sameAnswer(t, d, p, JSON.stringify(form));
  }
});

t.test('defect 6: every error reply is valid JSON in the dialect shape, whatever was thrown', async (t) => {
  const s = await setup(t, 'neo');
  // A stack nested deeper than any recursive walk survives.
  const depth = 200_000;
  const deep = `${'{"type":"Array","value":['.repeat(depth)}{"type":"Integer","value":"1"}${']}'.repeat(depth)}`;
  s.front.always((req) => {
    const id = JSON.stringify((req.json as { id?: unknown }).id ?? null);
    return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":{"state":"HALT","gasconsumed":"1","stack":[${deep}]}}`) };
  });
  const call = { jsonrpc: '2.0', id: 3, method: 'invokefunction', params: ['0xd2a4cff31913016155e38e474a2c06d08be276cf', 'symbol', []] };
  const d = await post(s.front.url, call);
  const p = await post(s.proxyUrl, call);
  t.equal(p.status, d.status);
  // The scripted node writes its members in the proxy's order, so the bytes can be compared.
  t.ok(p.body.equals(d.body), `the deep answer is passed on as the node sent it (${p.body.length} vs ${d.body.length} bytes)`);
  s.front.always(undefined);
  // Arbitrary exceptions (not ProxyErrors, not even Errors) injected at each dialect stage.
  const dialect = s.proxy.state.runtime.groups.get('chain')?.dialect as unknown as Record<string, unknown>;
  let calls = 0;
  for (const stage of ['parse', 'isCacheable', 'judge', 'sessionOf', 'headFromHeaders']) {
    for (const thrown of [new RangeError('Maximum call stack size exceeded'), 'a string', { weird: true }, undefined]) {
      const original = dialect[stage];
      dialect[stage] = () => {
        throw thrown;
      };
      try {
        // Distinct params each time: a miss, so every stage up to the store runs.
        const n = String(++calls);
        const r = await post(s.proxyUrl, { jsonrpc: '2.0', id: 9, method: 'invokefunction', params: ['0xd2a4cff31913016155e38e474a2c06d08be276cf', 'balanceOf', [{ type: 'Integer', value: n }]] });
        const body = JSON.parse(r.text()) as { jsonrpc: string; id: unknown; error?: { code: unknown; message: unknown }; result?: unknown };
        t.equal(body.jsonrpc, '2.0', `${stage} / ${String(thrown)}: JSON-RPC shape`);
        if (body.error) t.ok(typeof body.error.code === 'number' && typeof body.error.message === 'string', `${stage}: numeric code`);
      } finally {
        dialect[stage] = original;
      }
    }
  }
});

t.test('defect 7: the JSON-RPC 2.0 envelope as the spec and the nodes say', async (t) => {
  const s = await setup(t);
  for (const body of ['{"foo":"boo"}', '{"jsonrpc":"2.0","method":1}', '{"jsonrpc":"1.0","id":5,"method":"eth_chainId"}', '[{"foo":"boo"},{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]']) {
    const [d, p] = await both(s, body);
    t.equal(p.status, d.status, `${body}: status`);
    const strip = (v: unknown): unknown => (Array.isArray(v) ? v.map(strip) : { ...(v as object), error: (v as { error?: { code: number } }).error?.code });
    t.same(strip(p.json()), strip(d.json()), `${body}: ids and codes (messages are the proxy's own)`);
  }
  const head = `0x${s.node.head.toString(16)}`;
  for (const call of [
    { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: null },
    balance(2, { blockNumber: '0x10', requireCanonical: true }),
    balance(3, s.node.blockHashAt(7)),
    balance(4, head),
  ]) {
    const [d, p] = await both(s, call);
    sameAnswer(t, d, p, JSON.stringify(call.params));
  }
  // A missing or null block param goes as written, even when the proxy's head is behind the node's.
  s.node.advance(2);
  for (const params of [[ADDR], [ADDR, null]]) {
    const call = { jsonrpc: '2.0', id: 6, method: 'eth_getBalance', params };
    const [d, p] = await both(s, call);
    sameAnswer(t, d, p, `block param ${params.length === 1 ? 'missing' : 'null'}`);
    t.same(s.node.requests.at(-1)?.params, params, 'forwarded as written');
  }
  // The node's HTTP status on a single call reaches the client.
  s.front.script(status500RpcError, status500RpcError);
  const direct = await post(s.front.url, balance(8, '0x9'));
  const proxied = await post(s.proxyUrl, balance(8, '0x9'));
  t.equal(direct.status, 500);
  sameAnswer(t, direct, proxied, '500 with a JSON-RPC error');
});

t.test('issue 14: session calls of one batch to one node go as one upstream batch', async (t) => {
  const s = await setup(t, 'neo');
  const opened = await post(s.proxyUrl, { jsonrpc: '2.0', id: 1, method: 'invokefunction', params: ['0xd2a4cff31913016155e38e474a2c06d08be276cf', NEO_ITERATOR_OPERATION, []] });
  const { session, stack } = opened.json<{ result: { session: string; stack: Array<{ id: string }> } }>().result;
  const before = s.node.calls.total;
  const page = (id: number) => ({ jsonrpc: '2.0', id, method: 'traverseiterator', params: [session, stack[0]?.id, 2] });
  const res = await post(s.proxyUrl, [page(1), page(2), { jsonrpc: '2.0', id: 3, method: 'terminatesession', params: [session] }]);
  const els = res.json<Array<{ id: number; result?: unknown }>>();
  t.same(els.map((e) => e.id), [1, 2, 3]);
  t.ok(els.every((e) => e.result !== undefined), 'all answered by the session node');
  t.equal(s.node.calls.total - before, 1, 'one upstream request for the three session calls');
});
