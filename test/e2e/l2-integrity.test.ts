// A damaged L2 value of the same length (one byte flipped inside the stored body) is a miss,
// counted and deleted — never a HIT with wrong bytes, never invalid JSON or a broken gzip stream.
// And /admin/purge during a slow fetch: the answer reaches its caller but is not stored.
import { gunzipSync, crc32 } from 'node:zlib';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { RedisStore } from '../../src/cache/redis-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { registry } from '../../src/metrics/metrics.js';
import { compressSegment } from '../../src/response/gzip-splice.js';
import { request } from '../support/http-client.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { startRedis, waitUntil } from '../support/redis-server.js';

async function metric(name: string, labels: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** Flips one byte in the middle of the stored body (after the 44-byte header and the headers JSON). */
async function damage(t: Test, client: Redis, key: string): Promise<void> {
  const value = (await client.getBuffer(key)) as Buffer;
  const bodyStart = 44 + value.readUInt32BE(40);
  const at = bodyStart + Math.floor((value.length - bodyStart) / 2);
  await client.setrange(key, at, String.fromCharCode((value[at] ?? 0) ^ 0x20));
  t.equal(((await client.getBuffer(key)) as Buffer).length, value.length, 'same length');
}

function entry(text: string, compress: boolean): CacheEntry {
  const now = Date.now();
  const raw = Buffer.from(text);
  const seg = compress ? compressSegment(raw, { minBytes: 0, minSavings: 0 }) : { body: raw, compressed: false, crc32: crc32(raw), rawLength: raw.length };
  return { status: 200, headers: [['content-type', 'application/json']], ...seg, storedAt: now, expiresAt: now + 60_000 };
}

t.test('RedisStore: a damaged value (identity or compressed) is a miss, counted and deleted', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const client = new Redis({ port: redis.port, host: '127.0.0.1' });
  t.teardown(() => client.disconnect());
  const store = new RedisStore({ url: redis.url, prefix: 'lpd:', commandTimeoutMs: 500 });
  t.teardown(() => store.close());
  await waitUntil(() => store.connected, 3000, 'connected');
  for (const compress of [false, true]) {
    const key = `main:eth_call:${compress ? 'gz' : 'id'}`;
    const e = entry(JSON.stringify({ value: 'x'.repeat(400), n: [1, 2, 3] }), compress);
    await store.set(key, e);
    t.ok(await store.get(key), 'intact value is a hit');
    await damage(t, client, `lpd:${key}`);
    const before = await metric('ledgerproxy_cache_errors_total', '{tier="redis",op="damaged"}');
    t.equal(await store.get(key), undefined, `damaged ${compress ? 'compressed' : 'identity'} value is a miss`);
    t.equal((await metric('ledgerproxy_cache_errors_total', '{tier="redis",op="damaged"}')) - before, 1, 'counted');
    await waitUntil(async () => (await client.exists(`lpd:${key}`)) === 0, 2000, 'damaged value deleted');
  }
});

const proxyConfig = (nodeUrl: string, redisUrl: string) => `
upstreams:
  main: { dialect: evm-jsonrpc, primary: ${nodeUrl} }
routes:
  - match: { pathPrefix: / }
    upstream: main
cache:
  redis: { url: "${redisUrl}", prefix: "lpe:", commandTimeoutMs: 500 }
`;

t.test('through the proxy: damaged L2 value → MISS with the right bytes, for plain and gzip clients', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(proxyConfig(node.url, redis.url));
  t.teardown(() => proxy.close());
  const client = new Redis({ port: redis.port, host: '127.0.0.1' });
  t.teardown(() => client.disconnect());
  const body = { jsonrpc: '2.0', id: 7, method: 'eth_getBlockByNumber', params: ['0x5', true] };
  const first = await request(proxy.url, { method: 'POST', body });
  t.equal(first.header('x-cache'), 'MISS');
  for (const gzip of [false, true]) {
    await proxy.state.cache.flush();
    const keys = await client.keys('lpe:main:eth_getBlockByNumber:*');
    t.equal(keys.length, 1, 'one stored value');
    await damage(t, client, keys[0] as string);
    await proxy.state.cache.memory.purge(''); // L1 forgets: the next lookup reads L2
    node.resetCalls();
    const res = await request(proxy.url, { method: 'POST', body, headers: gzip ? { 'accept-encoding': 'gzip' } : {} });
    t.equal(res.header('x-cache'), 'MISS', 'a damaged value is not a hit');
    t.equal(node.calls.rpc, 1, 'asked the node again');
    const text = gzip && res.header('content-encoding') === 'gzip' ? gunzipSync(res.body).toString() : res.text();
    t.equal(text, first.text(), 'the right bytes');
  }
});

t.test('purge during a slow fetch: the fetch answers its caller but stores nothing', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const node = await startJsonRpcNode({ flavor: 'evm', latencyMs: 400 });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(proxyConfig(node.url, redis.url));
  t.teardown(() => proxy.close());
  const client = new Redis({ port: redis.port, host: '127.0.0.1' });
  t.teardown(() => client.disconnect());
  const body = { jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['0x9', false] };
  node.resetCalls();
  const slow = request(proxy.url, { method: 'POST', body });
  await waitUntil(() => node.requests.some((r) => r.method === 'eth_getBlockByNumber'), 3000, 'fetch reached the node');
  const purge = await request(`${proxy.adminUrl}/admin/purge?all=true`, { method: 'POST' });
  t.equal(purge.status, 200, 'purge answered while the fetch was in flight');
  const answered = await slow;
  t.equal(answered.status, 200);
  t.equal(answered.header('x-cache'), 'MISS');
  await proxy.state.cache.flush();
  t.equal((await client.keys('lpe:main:eth_getBlockByNumber:*')).length, 0, 'not stored in L2');
  const again = await request(proxy.url, { method: 'POST', body });
  t.equal(again.header('x-cache'), 'MISS', 'not stored in L1: the next request asks the node');
  t.equal(node.calls.byMethod.get('eth_getBlockByNumber'), 2);
  const third = await request(proxy.url, { method: 'POST', body });
  t.equal(third.header('x-cache'), 'HIT', 'a fetch begun after the purge is stored as usual');
});
