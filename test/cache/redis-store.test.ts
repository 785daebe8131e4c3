// Against the shared Redis at 127.0.0.1:6379, under a random prefix per run that is purged at the end.
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import t from 'tap';
import { encodeEntry } from '../../src/cache/codec.js';
import { RedisStore, escapeGlob } from '../../src/cache/redis-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { cacheErrorsTotal, cacheLookupsTotal, redisUp } from '../../src/metrics/metrics.js';
import { compressSegment } from '../../src/response/gzip-splice.js';
import { waitUntil } from '../support/redis-server.js';

const URL = 'redis://127.0.0.1:6379';
const prefix = `lptest:${randomUUID()}:`;

function entry(text: string, ttlMs = 60_000): CacheEntry {
  const now = Date.now();
  return { status: 200, headers: [['content-type', 'application/json']], ...compressSegment(Buffer.from(text), { minBytes: 1 }), storedAt: now, expiresAt: now + ttlMs };
}

async function metric(m: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await m.get();
  const v = values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v?.value ?? 0;
}

const raw = new Redis(URL);
const store = new RedisStore({ url: URL, prefix, commandTimeoutMs: 500 });
t.teardown(async () => {
  await store.purge('');
  await store.close();
  await raw.quit();
});

t.before(async () => {
  await waitUntil(() => store.connected, 3000, 'store connected');
});

t.test('round-trip with a TTL', async (t) => {
  const e = entry(JSON.stringify({ result: '0x' + 'ab'.repeat(500) }));
  await store.set('main:eth_call:k1', e);
  t.same(await store.get('main:eth_call:k1'), e);
  const pttl = await raw.pttl(`${prefix}main:eth_call:k1`);
  t.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`);
  t.equal(await store.get('main:eth_call:absent'), undefined);
  t.equal(await metric(redisUp), 1, 'redis_up follows the connection');
});

t.test('expired entries are not written', async (t) => {
  await store.set('main:eth_call:old', entry('x', -5));
  t.equal(await raw.exists(`${prefix}main:eth_call:old`), 0);
});

t.test('an undecodable value is a counted miss', async (t) => {
  const before = await metric(cacheErrorsTotal, { tier: 'redis', op: 'decode' });
  const misses = await metric(cacheLookupsTotal, { tier: 'redis', result: 'miss' });
  await raw.set(`${prefix}main:eth_call:junk`, 'not a cache value', 'PX', 60_000);
  const future = encodeEntry(entry('y'));
  future[2] = 99;
  await raw.set(`${prefix}main:eth_call:future`, future, 'PX', 60_000);
  t.equal(await store.get('main:eth_call:junk'), undefined);
  t.equal(await store.get('main:eth_call:future'), undefined);
  t.equal((await metric(cacheErrorsTotal, { tier: 'redis', op: 'decode' })) - before, 2);
  t.equal((await metric(cacheLookupsTotal, { tier: 'redis', result: 'miss' })) - misses, 2);
});

t.test('purge by prefix with SCAN + UNLINK', async (t) => {
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < 2500; i++) writes.push(store.set(`pg:eth_call:${i}`, entry(String(i))));
  for (let i = 0; i < 30; i++) writes.push(store.set(`pg:eth_getCode:${i}`, entry(String(i))));
  for (let i = 0; i < 5; i++) writes.push(store.set(`pgx:eth_call:${i}`, entry(String(i))));
  await Promise.all(writes);
  t.equal(await store.purge('pg:eth_call:'), 2500, 'several SCAN rounds');
  t.equal(await store.get('pg:eth_call:7'), undefined);
  t.ok(await store.get('pg:eth_getCode:7'));
  t.equal(await store.purge('pg:'), 30);
  t.ok(await store.get('pgx:eth_call:1'), 'a longer group name with the same start survives');
  t.equal(await store.purge('nothing:'), 0);
});

t.test('glob characters in a prefix match only themselves', async (t) => {
  await store.set('g*:m:1', entry('a'));
  await store.set('gX:m:1', entry('b'));
  t.equal(await store.purge('g*:'), 1);
  t.ok(await store.get('gX:m:1'));
  t.equal(escapeGlob('a*b?c[d]e\\'), 'a\\*b\\?c\\[d\\]e\\\\');
});

t.test('an empty prefix is refused', async (t) => {
  t.throws(() => new RedisStore({ url: URL, prefix: '', commandTimeoutMs: 100 }), 'an empty prefix is refused');
});
