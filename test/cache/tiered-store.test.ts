// Two proxy instances sharing the Redis at 127.0.0.1:6379 (random prefix per run, purged at the end).
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import { TieredStore } from '../../src/cache/tiered-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { compressSegment } from '../../src/response/gzip-splice.js';
import { waitUntil } from '../support/redis-server.js';

const URL = 'redis://127.0.0.1:6379';
const prefix = `lptest:${randomUUID()}:`;

function entry(text: string, ttlMs = 60_000): CacheEntry {
  const now = Date.now();
  return { status: 200, headers: [['content-type', 'application/json']], ...compressSegment(Buffer.from(text), { minBytes: 1 }), storedAt: now, expiresAt: now + ttlMs };
}

function instance(): TieredStore {
  return new TieredStore({
    memory: new MemoryStore({ maxBytes: 1_000_000 }),
    remote: new RedisStore({ url: URL, prefix, commandTimeoutMs: 500 }),
  });
}

const a = instance();
const b = instance();
t.teardown(async () => {
  await a.purge('');
  await Promise.all([a.close(), b.close()]);
});
t.before(async () => {
  await waitUntil(() => (a.remote as RedisStore).connected && (b.remote as RedisStore).connected, 3000, 'both connected');
});

t.test('set through one instance, L2 hit through the other, then L1', async (t) => {
  const e = entry('{"result":"0x2a"}'.repeat(50), 30_000);
  await a.set('main:eth_call:x', e);
  t.same(await a.lookup('main:eth_call:x'), { entry: e, tier: 'memory' }, 'writer serves from L1 at once');
  await a.flush();
  const first = await b.lookup('main:eth_call:x');
  t.equal(first?.tier, 'redis');
  t.same(first?.entry, e);
  const second = await b.lookup('main:eth_call:x');
  t.equal(second?.tier, 'memory', 'the L2 hit was copied into L1');
  t.equal(second?.entry.expiresAt, e.expiresAt, 'for the remaining lifetime only');
  t.equal(await b.get('main:eth_call:missing'), undefined);
});

t.test('fill: L1 holds the entry when it returns (no await), L2 gets it in the background', async (t) => {
  const e = entry('{"result":"0x2b"}'.repeat(20), 30_000);
  a.fill('main:eth_call:filled', e);
  t.same(a.memory.getSync('main:eth_call:filled'), { ...e, staleUntil: undefined }, 'in L1 synchronously');
  await a.flush();
  t.same(await b.get('main:eth_call:filled'), e, 'and in L2 once the background write is done');
});

t.test('an L2 hit is kept in L1 only until it expires', async (t) => {
  await a.set('main:eth_call:short', entry('s', 150));
  await a.flush();
  t.equal((await b.lookup('main:eth_call:short'))?.tier, 'redis');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(await b.get('main:eth_call:short'), undefined);
});

t.test('purge reaches both tiers', async (t) => {
  await a.set('grp:eth_getBalance:1', entry('1'));
  await a.set('grp:eth_getBalance:2', entry('2'));
  await a.set('grp:eth_chainId:1', entry('3'));
  await a.flush();
  await b.get('grp:eth_getBalance:1'); // now in b's L1 as well
  const counts = await b.purgeByTier('grp:eth_getBalance:');
  t.same(counts, { memory: 1, remote: 2 });
  t.equal(await b.get('grp:eth_getBalance:1'), undefined);
  t.ok(await a.memory.get('grp:eth_getBalance:1'), "another instance's L1 is its own (purge each instance)");
  t.same(await a.purgeByTier('grp:'), { memory: 3, remote: 1 }, "a's L1 still had all three");
});

t.test('without Redis it is an L1 cache', async (t) => {
  const solo = new TieredStore({ memory: new MemoryStore({ maxBytes: 100_000 }) });
  await solo.set('k', entry('v'));
  t.same((await solo.lookup('k'))?.tier, 'memory');
  t.equal(await solo.purge(''), 1);
  await solo.close();
});
