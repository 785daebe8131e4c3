// Redis at maxmemory under noeviction answers every read and refuses every write (OOM): one log
// line for the whole write outage, redis_up stays 1 (it is up), redis_writable 0 and
// redis_write_errors_total{reason="oom"} say what is wrong. And a write answered after
// commandTimeoutMs is counted as what it did (stored late), not as an error.
import { crc32 as crc } from 'node:zlib';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t from 'tap';
import { RedisStore } from '../../src/cache/redis-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { registry } from '../../src/metrics/metrics.js';
import { startRedis, waitUntil } from '../support/redis-server.js';

function entry(text: string): CacheEntry {
  const now = Date.now();
  const body = Buffer.from(text);
  return { status: 200, headers: [['content-type', 'application/json']], body, compressed: false, crc32: crc(body), rawLength: body.length, storedAt: now, expiresAt: now + 60_000 };
}


async function metric(name: string, labels = ''): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

t.test('a full Redis under noeviction: one log line, up stays 1, writes counted as refused', async (t) => {
  const redis = await startRedis({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] });
  t.teardown(() => redis.stop());
  const filler = new Redis({ port: redis.port, host: '127.0.0.1' });
  t.teardown(() => filler.disconnect());
  await filler.set('lpfull:probe', 'x'); // reads of it keep working
  // Fill until Redis refuses (OOM), with keys outside the proxy's prefix.
  for (let i = 0; i < 10_000; i++) {
    const ok = await filler.set(`junk:${i}`, 'x'.repeat(16_384)).then(() => true, () => false);
    if (!ok) break;
  }
  const { logger, lines } = capture();
  const store = new RedisStore({ url: redis.url, prefix: 'lpfull:', commandTimeoutMs: 500 }, { logger });
  t.teardown(() => store.close());
  await waitUntil(() => store.connected, 3000, 'connected');
  const oomBefore = await metric('ledgerproxy_redis_write_errors_total', '{reason="oom"}');
  const missesBefore = await metric('ledgerproxy_cache_lookups_total', '{tier="redis",result="miss"}');

  for (let i = 0; i < 20; i++) {
    t.equal(await store.get(`main:eth_call:${i}`), undefined);
    await store.set(`main:eth_call:${i}`, entry(`"0x${i}"`));
  }
  const warnings = lines.filter((l) => l.level >= 40);
  t.equal(warnings.length, 1, `one warning for the outage, got: ${warnings.map((l) => l.msg).join(' | ')}`);
  t.equal(lines.filter((l) => /answering again|accepting writes again/.test(l.msg)).length, 0, 'no "back" lines while it stays full');
  t.equal(await metric('ledgerproxy_redis_up'), 1, 'reads work: Redis is up');
  t.equal(await metric('ledgerproxy_redis_writable'), 0, 'but not writable');
  t.equal((await metric('ledgerproxy_redis_write_errors_total', '{reason="oom"}')) - oomBefore, 20);
  t.equal((await metric('ledgerproxy_cache_lookups_total', '{tier="redis",result="miss"}')) - missesBefore, 20, 'reads answered: misses, not errors');

  // Room again: the first write that lands ends the write outage, with one line.
  await filler.flushdb();
  await store.set('main:eth_call:back', entry('"0xb"'));
  t.equal(await metric('ledgerproxy_redis_writable'), 1);
  t.equal(lines.filter((l) => /accepting writes again/.test(l.msg)).length, 1);
  t.ok(await store.get('main:eth_call:back'));
});

t.test('a write answered after commandTimeoutMs is counted as stored (late), not as an error', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
  t.teardown(() => admin.disconnect());
  const store = new RedisStore({ url: redis.url, prefix: 'lplate:', commandTimeoutMs: 300 });
  t.teardown(() => store.close());
  await waitUntil(() => store.connected, 3000, 'connected');
  const errorsBefore = await metric('ledgerproxy_cache_errors_total', '{tier="redis",op="set"}');
  const storesBefore = await metric('ledgerproxy_cache_stores_total', '{tier="redis"}');
  const lateBefore = await metric('ledgerproxy_redis_late_writes_total');

  // Writes wait 800 ms (reads go on): the SET lands after the caller stopped waiting at 300 ms and
  // before ioredis gives up on it (4 x 300 ms). Wide margins both sides: on a loaded machine a
  // caller's 300 ms may well look like 450, and the landing may come late.
  await admin.call('CLIENT', 'PAUSE', '800', 'WRITE');
  const started = Date.now();
  await store.set('main:eth_call:late', entry('"0x1"'));
  const waited = Date.now() - started;
  t.ok(waited < 650, `the caller waited at most about commandTimeoutMs, not for the 800 ms pause (${waited} ms)`);
  await waitUntil(async () => (await admin.exists('lplate:main:eth_call:late')) === 1, 3000, 'the late write landed');
  await waitUntil(async () => (await metric('ledgerproxy_redis_late_writes_total')) - lateBefore === 1, 2000, 'counted late');
  t.equal((await metric('ledgerproxy_cache_stores_total', '{tier="redis"}')) - storesBefore, 1, 'counted as stored');
  t.equal((await metric('ledgerproxy_cache_errors_total', '{tier="redis",op="set"}')) - errorsBefore, 0, 'not as an error');
});
