// Redis dying, hanging and coming back, against a private redis-server on a free port.
import { pino } from 'pino';
import t from 'tap';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import { TieredStore } from '../../src/cache/tiered-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { cacheErrorsTotal, cacheLookupsTotal, redisUp } from '../../src/metrics/metrics.js';
import { compressSegment } from '../../src/response/gzip-splice.js';
import { freePort, startRedis, waitUntil } from '../support/redis-server.js';

const TIMEOUT_MS = 150;

function entry(text: string): CacheEntry {
  const now = Date.now();
  return { status: 200, headers: [], ...compressSegment(Buffer.from(text)), storedAt: now, expiresAt: now + 60_000 };
}

async function metric(m: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await m.get();
  const v = values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v?.value ?? 0;
}

/** A store whose log lines are kept for inspection. */
function loggedStore(url: string, prefix = 'fault:'): { store: RedisStore; lines: Array<{ level: number; msg: string; failedCommands?: number }> } {
  const lines: Array<{ level: number; msg: string; failedCommands?: number }> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { store: new RedisStore({ url, prefix, commandTimeoutMs: TIMEOUT_MS, connectTimeoutMs: 500 }, { logger }), lines };
}

/** Runs op and returns how long it took; op must not throw. */
async function timed<T>(op: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await op();
  return { ms: performance.now() - start, value };
}

t.test('killed Redis: fast counted misses, one log line, reconnects by itself', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const { store, lines } = loggedStore(redis.url);
  t.teardown(() => store.close());
  await waitUntil(() => store.connected, 3000, 'connected');
  await store.set('k', entry('before'));
  t.ok(await store.get('k'), 'hit while up');

  const getErrors = await metric(cacheErrorsTotal, { tier: 'redis', op: 'get' });
  const setErrors = await metric(cacheErrorsTotal, { tier: 'redis', op: 'set' });
  await redis.kill();
  await waitUntil(() => !store.connected, 2000, 'store noticed');
  t.equal(await metric(redisUp), 0, 'redis_up is 0');
  let slowest = 0;
  for (let i = 0; i < 20; i++) {
    const g = await timed(() => store.get('k'));
    const s = await timed(() => store.set(`k${i}`, entry('during')));
    t.equal(g.value, undefined);
    slowest = Math.max(slowest, g.ms, s.ms);
  }
  t.ok(slowest < 300, `each get/set answered in ${slowest.toFixed(1)} ms`);
  t.equal((await metric(cacheErrorsTotal, { tier: 'redis', op: 'get' })) - getErrors, 20, 'get errors counted');
  t.equal((await metric(cacheErrorsTotal, { tier: 'redis', op: 'set' })) - setErrors, 20, 'set errors counted');
  await t.rejects(store.purge(''), 'purge reports that it could not reach Redis');

  await redis.start(); // same port, empty (no persistence)
  await waitUntil(() => store.connected, 5000, 'reconnected');
  t.equal(await metric(redisUp), 1, 'redis_up back to 1');
  await store.set('k', entry('after'));
  t.ok(await store.get('k'), 'hits again');

  const down = lines.filter((l) => l.msg.startsWith('redis unavailable'));
  const back = lines.filter((l) => l.msg === 'redis answering again');
  t.equal(down.length, 1, 'outage logged once');
  t.equal(back.length, 1, 'recovery logged once');
  t.ok((back[0]?.failedCommands ?? 0) >= 40, 'with the number of commands that failed meanwhile');
});

t.test('hung Redis (SIGSTOP): commands give up at the timeout', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const { store, lines } = loggedStore(redis.url);
  t.teardown(() => store.close());
  await waitUntil(() => store.connected, 3000, 'connected');
  await store.set('k', entry('v'));

  redis.pause();
  const errors = await metric(cacheLookupsTotal, { tier: 'redis', result: 'error' });
  const results = await Promise.all(Array.from({ length: 10 }, () => timed(() => store.get('k'))));
  for (const r of results) t.equal(r.value, undefined);
  const slowest = Math.max(...results.map((r) => r.ms));
  t.ok(slowest < TIMEOUT_MS + 350, `gave up after ${slowest.toFixed(1)} ms`);
  t.equal((await metric(cacheLookupsTotal, { tier: 'redis', result: 'error' })) - errors, 10);

  redis.resume();
  await waitUntil(async () => (await store.get('k')) !== undefined, 3000, 'answers after SIGCONT');
  t.equal(lines.filter((l) => l.msg.startsWith('redis unavailable')).length, 1);
  t.equal(lines.filter((l) => l.msg === 'redis answering again').length, 1);
});

t.test('Redis absent at start-up, then started', async (t) => {
  const port = await freePort();
  const { store, lines } = loggedStore(`redis://127.0.0.1:${port}`, 'late:');
  const tiered = new TieredStore({ memory: new MemoryStore({ maxBytes: 100_000 }), remote: store });
  t.teardown(() => tiered.close());
  const set = await timed(() => tiered.set('k', entry('local')));
  t.ok(set.ms < TIMEOUT_MS, `set returns without waiting for L2 (${set.ms.toFixed(1)} ms, command timeout ${TIMEOUT_MS} ms)`);
  t.equal((await tiered.lookup('k'))?.tier, 'memory', 'L1 serves while L2 is down');
  const miss = await timed(() => tiered.get('other'));
  t.equal(miss.value, undefined);
  t.ok(miss.ms < TIMEOUT_MS + 350, `miss in ${miss.ms.toFixed(1)} ms`);
  await tiered.flush();

  const redis = await startRedis({ port });
  t.teardown(() => redis.stop());
  const remote = store;
  await waitUntil(() => remote.connected, 5000, 'connected once Redis is up');
  await tiered.set('k2', entry('shared'));
  await tiered.flush();
  t.ok(await remote.get('k2'), 'L2 written after the late start');
  t.equal(lines.filter((l) => l.msg.startsWith('redis unavailable')).length, 1, 'refused connects logged once');
});
