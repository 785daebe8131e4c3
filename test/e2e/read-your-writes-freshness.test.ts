// A head that cannot be refreshed is not fresh: when no poll or answer confirmed the group head for
// longer than maxStaleness.ms + head.pollIntervalMs (+ slack), latest reads are not served from the
// frozen snapshot. With the head poll failing they go to the node (and see its new blocks); with
// the only node dead they are an error, or STALE where stale-if-error allows it — never a HIT.
import t from 'tap';
import { request } from '../support/http-client.js';
import { startJsonRpcNode, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';
import { waitUntil } from '../support/redis-server.js';
import type { TapTest } from '../support/tap-test.js';

const ADDR = '0x00000000000000000000000000000000000000aa';
const POLL_MS = 200;

async function setup(t: TapTest): Promise<{ node: JsonRpcNodeHandle; proxy: TestProxy }> {
  const node = await startJsonRpcNode({ flavor: 'evm', head: 100 });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  evm:
    dialect: evm-jsonrpc
    primary: ${node.url}
    head: { pollIntervalMs: ${POLL_MS} }
    retry: { attempts: 0 }
routes:
  - name: stale
    match: { pathPrefix: /stale }
    upstream: evm
    cache: { staleIfErrorMs: 600000 }
  - match: { pathPrefix: / }
    upstream: evm
`);
  t.teardown(() => proxy.close());
  return { node, proxy };
}

async function balance(url: string): Promise<{ status: number; xCache: string | undefined; result?: string; error?: unknown }> {
  const res = await request(url, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [ADDR, 'latest'] } });
  const body = JSON.parse(res.body.toString('utf8')) as { result?: string; error?: unknown };
  return { status: res.status, xCache: res.header('x-cache'), ...body };
}

t.test('head poll failing: after the bound latest reads go to the node and see its new blocks', async (t) => {
  const { node, proxy } = await setup(t);
  t.equal((await balance(proxy.url)).xCache, 'MISS');
  t.equal((await balance(proxy.url)).xCache, 'HIT', 'fresh head: a hit');
  node.setFault({ kind: 'status', status: 500, match: (i) => i.rpcMethods.includes('eth_blockNumber') });
  node.advance(5);
  const atNode = (await request(node.url, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [ADDR, 'latest'] } })).json<{ result: string }>().result;
  let last: Awaited<ReturnType<typeof balance>> | undefined;
  await waitUntil(async () => {
    last = await balance(proxy.url);
    return last.xCache !== 'HIT';
  }, 5000, 'latest reads stop being hits for the frozen head');
  t.equal(last?.result, atNode, 'answered by the node for its current head, not the frozen one');
  t.not((await balance(proxy.url)).xCache, 'HIT', 'and it stays that way while the head cannot be refreshed');
});

t.test('the only node dead: after the bound an error (stale-if-error off) or STALE (on), never a HIT', async (t) => {
  const { node, proxy } = await setup(t);
  await balance(proxy.url);
  await balance(`${proxy.url}/stale`);
  t.equal((await balance(proxy.url)).xCache, 'HIT');
  await node.kill();
  let plain: Awaited<ReturnType<typeof balance>> | undefined;
  await waitUntil(async () => {
    plain = await balance(proxy.url);
    return plain.xCache !== 'HIT';
  }, 5000, 'no more hits for the frozen head');
  t.ok(plain?.error !== undefined, 'stale-if-error off: the failure is the answer');
  const stale = await balance(`${proxy.url}/stale`);
  t.equal(stale.xCache, 'STALE', 'stale-if-error on: the last answer, marked STALE');
  t.type(stale.result, 'string');
});
