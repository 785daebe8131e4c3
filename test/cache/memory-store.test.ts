import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import t from 'tap';
import { ENTRY_OVERHEAD, MemoryStore, entrySize } from '../../src/cache/memory-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { cacheBytes, cacheEntries, cacheEvictionsTotal, cacheLookupsTotal } from '../../src/metrics/metrics.js';

function entry(size: number, ttlMs = 60_000): CacheEntry {
  const body = Buffer.alloc(size, 0x61);
  const now = Date.now();
  return { status: 200, headers: [['content-type', 'application/json']], body, compressed: false, crc32: zlib.crc32(body), rawLength: size, storedAt: now, expiresAt: now + ttlMs, staleUntil: undefined };
}

async function metric(m: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await m.get();
  const v = values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v?.value ?? 0;
}

t.test('the byte bound holds under many inserts', async (t) => {
  const maxBytes = 200_000;
  const store = new MemoryStore({ maxBytes, maxEntryBytes: 20_000 });
  const evictionsBefore = await metric(cacheEvictionsTotal, { tier: 'memory' });
  const sizes = new Map<string, number>();
  let violations = 0;
  for (let i = 0; i < 5000; i++) {
    const key = `g:m:${i}`;
    const e = entry(Math.floor(Math.random() * 15_000));
    sizes.set(key, entrySize(key, e));
    await store.set(key, e);
    if (store.bytes > maxBytes) violations++;
  }
  t.equal(violations, 0, 'calculated size never above maxBytes');
  let held = 0;
  let count = 0;
  for (const key of sizes.keys()) {
    if (await store.get(key)) {
      held += sizes.get(key) ?? 0;
      count++;
    }
  }
  t.ok(held <= maxBytes, `sum of held entries ${held} ≤ ${maxBytes}`);
  t.equal(held, store.bytes, 'store accounts exactly what it holds');
  t.ok(count > 5 && count < 5000, `some entries kept, most evicted (${count})`);
  t.ok((await metric(cacheEvictionsTotal, { tier: 'memory' })) - evictionsBefore >= 5000 - count, 'evictions counted');
  t.equal(await metric(cacheEntries, { tier: 'memory' }), store.size, 'entries gauge');
  t.equal(await metric(cacheBytes, { tier: 'memory' }), store.bytes, 'bytes gauge');
});

t.test('entries are charged body, headers and overhead; oversize entries are refused', async (t) => {
  const store = new MemoryStore({ maxBytes: 100_000, maxEntryBytes: 10_000 });
  const e = entry(1000);
  await store.set('k', e);
  t.equal(store.bytes, ENTRY_OVERHEAD + 1 + 1000 + 2 * ('content-type'.length + 'application/json'.length) + 64);
  t.notOk(store.setSync('big', entry(10_000)), 'over maxEntryBytes once headers and overhead count');
  t.equal(await store.get('big'), undefined);
  t.throws(() => new MemoryStore({ maxBytes: 0 }));
});

t.test('entries expire at expiresAt', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000 });
  await store.set('short', entry(10, 60));
  await store.set('long', entry(10, 60_000));
  t.ok(await store.get('short'));
  await sleep(90);
  t.equal(await store.get('short'), undefined, 'expired');
  t.ok(await store.get('long'));
  t.notOk(store.setSync('stale', entry(10, -1)), 'an already expired entry is not stored');
  t.equal(store.size, 1);
});

t.test('lookups are counted by result', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000 });
  const hits = await metric(cacheLookupsTotal, { tier: 'memory', result: 'hit' });
  const misses = await metric(cacheLookupsTotal, { tier: 'memory', result: 'miss' });
  await store.set('a', entry(5));
  await store.get('a');
  await store.get('a');
  await store.get('b');
  t.equal((await metric(cacheLookupsTotal, { tier: 'memory', result: 'hit' })) - hits, 2);
  t.equal((await metric(cacheLookupsTotal, { tier: 'memory', result: 'miss' })) - misses, 1);
});

t.test('purge by prefix', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000 });
  for (const k of ['main:eth_call:a', 'main:eth_call:b', 'main:eth_getBalance:c', 'mainx:eth_call:d', 'test:eth_call:e']) await store.set(k, entry(5));
  t.equal(await store.purge('main:eth_call:'), 2);
  t.equal(await store.get('main:eth_call:a'), undefined);
  t.ok(await store.get('main:eth_getBalance:c'));
  t.equal(await store.purge('main:'), 1, 'group prefix does not touch mainx');
  t.ok(await store.get('mainx:eth_call:d'));
  t.equal(await store.purge('nothing:'), 0);
  t.equal(await store.purge(''), 2, "'' purges all");
  t.equal(store.size, 0);
  t.equal(store.bytes, 0);
  t.equal(await metric(cacheBytes, { tier: 'memory' }), 0);
});

t.test('an expired entry with staleUntil is kept for stale serving only, then dropped', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000 });
  // Windows of seconds, not tens of ms: each check must land inside its window even when a loaded
  // machine deschedules this process between two lines.
  const e = { ...entry(100, 1000), staleUntil: Date.now() + 2500 };
  store.setSync('k', e);
  t.same(store.getSync('k'), e, 'fresh');
  t.equal(store.getStaleSync('k'), undefined, 'not stale while fresh');
  await sleep(1050);
  t.equal(store.getSync('k'), undefined, 'expired: not served as fresh');
  t.same(store.getStaleSync('k'), e, 'still there for stale serving');
  await sleep(1500);
  t.equal(store.getStaleSync('k'), undefined, 'gone after staleUntil');
});

t.test('an entry past its life is dropped by a stale lookup and not counted by a purge', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000 });
  store.setSync('g:m:gone', { ...entry(10, 30), staleUntil: Date.now() + 60 });
  store.setSync('g:m:old', entry(10, 30));
  store.setSync('g:m:live', entry(10, 60_000));
  await sleep(100);
  t.equal(store.size, 3, 'kept until looked up or pushed out');
  t.equal(store.getStaleSync('g:m:gone'), undefined, 'past staleUntil: not served stale');
  t.equal(store.size, 2, 'and dropped');
  t.equal(await store.purge('g:m:'), 1, 'only the entry still alive counts');
  t.equal(store.getStaleSync('g:m:old'), undefined);
});

t.test('a store replacing a key keeps the byte count exact', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000 });
  store.setSync('k', entry(100));
  store.setSync('k', entry(300));
  t.equal(store.size, 1);
  t.equal(store.bytes, entrySize('k', entry(300)));
});
