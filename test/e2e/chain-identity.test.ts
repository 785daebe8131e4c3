// Two proxies on one Redis with the default prefix, each with a group named `main`, on different
// chains: neither may ever serve the other's answers. And a group that cannot tell its chain yet
// keeps its entries in L1: nothing read from or written to the shared tier.
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import t from 'tap';
import { request, rpcCall } from '../support/http-client.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { startRedis } from '../support/redis-server.js';

function config(nodeUrl: string, redisUrl: string): string {
  return `
upstreams:
  main: { dialect: evm-jsonrpc, primary: ${nodeUrl} }
routes:
  - match: { pathPrefix: / }
    upstream: main
cache:
  redis: { url: "${redisUrl}", commandTimeoutMs: 500 }
`;
}

t.test('same group name, different chains, one Redis: no answer crosses over', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const eth = await startJsonRpcNode({ flavor: 'evm', chainId: 1 });
  const polygon = await startJsonRpcNode({ flavor: 'evm', chainId: 137 });
  t.teardown(() => Promise.all([eth.close(), polygon.close()]));
  const a = await startTestProxy(config(eth.url, redis.url));
  const b = await startTestProxy(config(polygon.url, redis.url));
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.equal(a.state.runtime.groups.get('main')?.chain.id, 'evm-1');
  t.equal(b.state.runtime.groups.get('main')?.chain.id, 'evm-137');

  const idA = await request(a.url, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] } });
  await a.state.cache.flush();
  const idB = await request(b.url, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] } });
  t.equal(idA.json<{ result: string }>().result, '0x1');
  t.equal(idB.json<{ result: string }>().result, '0x89', "the second proxy answers its own chain's id");
  t.equal(idB.header('x-cache'), 'MISS', 'not a HIT from the other chain');

  const blockA = await rpcCall<{ hash: string }>(a.url, 'eth_getBlockByNumber', ['0x5', false]);
  await a.state.cache.flush();
  polygon.resetCalls();
  const blockB = await rpcCall<{ hash: string }>(b.url, 'eth_getBlockByNumber', ['0x5', false]);
  t.equal(blockA.result?.hash, eth.blockHashAt(5));
  t.equal(blockB.result?.hash, polygon.blockHashAt(5), "the other chain's block hash is never served");
  t.equal(polygon.calls.byMethod.get('eth_getBlockByNumber'), 1, 'asked its own node');

  // Same chain, same Redis: the fleet still shares (a third proxy on chain 1 gets a HIT).
  const c = await startTestProxy(config(eth.url, redis.url));
  t.teardown(() => c.close());
  const again = await request(c.url, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['0x5', false] } });
  t.equal(again.header('x-cache'), 'HIT', 'same chain: shared as before');
});

t.test('a group that cannot tell its chain uses L1 only', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const node = await startJsonRpcNode({ flavor: 'evm', chainId: 5 });
  t.teardown(() => node.close());
  // In front of the node: refuses eth_chainId, passes everything else on.
  const mute: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if (body.includes('"eth_chainId"')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}');
        return;
      }
      const upstream = await request(node.url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(upstream.body);
    });
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => mute.close(() => resolve())));
  const address = mute.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const proxy = await startTestProxy(config(`http://127.0.0.1:${port}`, redis.url));
  t.teardown(() => proxy.close());
  t.equal(proxy.state.runtime.groups.get('main')?.chain.id, undefined, 'chain not known');

  const body = { jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['0x3', false] };
  const first = await request(proxy.url, { method: 'POST', body });
  await proxy.state.cache.flush();
  const second = await request(proxy.url, { method: 'POST', body });
  t.equal(first.header('x-cache'), 'MISS');
  t.equal(second.header('x-cache'), 'HIT', 'L1 still works');
  const client = new Redis({ port: redis.port, host: '127.0.0.1' });
  t.teardown(() => client.disconnect());
  t.equal(await client.dbsize(), 0, 'nothing written to the shared tier');
});
