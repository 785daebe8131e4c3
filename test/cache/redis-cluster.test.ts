// The Cluster path: keys spread over three masters, purge has to SCAN each one and cannot use a
// multi-key UNLINK across slots.
import { Redis } from 'ioredis';
import t from 'tap';
import { RedisStore } from '../../src/cache/redis-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { compressSegment } from '../../src/response/gzip-splice.js';
import { startCluster, waitUntil } from '../support/redis-server.js';

function entry(text: string): CacheEntry {
  const now = Date.now();
  return { status: 200, headers: [['content-type', 'application/json']], ...compressSegment(Buffer.from(text)), storedAt: now, expiresAt: now + 60_000 };
}

t.test('round-trip and purge over every master', async (t) => {
  const cluster = await startCluster(3);
  t.teardown(() => cluster.stop());
  const store = new RedisStore({ cluster: cluster.seeds.slice(0, 1), prefix: 'lpc:', commandTimeoutMs: 500 });
  t.teardown(() => store.close());
  await waitUntil(() => store.connected, 5000, 'cluster client ready');

  await Promise.all(Array.from({ length: 300 }, (_, i) => store.set(`main:eth_call:${i}`, entry(`"0x${i.toString(16)}"`))));
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`main:eth_chainId:${i}`, entry('"0x1"'))));
  t.same((await store.get('main:eth_call:42'))?.body, entry('"0x2a"').body);

  const perNode = await Promise.all(
    cluster.nodes.map(async (node) => {
      const c = new Redis({ port: node.port, host: '127.0.0.1' });
      try {
        return await c.dbsize();
      } finally {
        c.disconnect();
      }
    }),
  );
  t.ok(perNode.every((n) => n > 0), `keys on every master: ${perNode.join(', ')}`);

  t.equal(await store.purge('main:eth_call:'), 300);
  t.equal(await store.get('main:eth_call:42'), undefined);
  t.ok(await store.get('main:eth_chainId:3'));
  t.equal(await store.purge(''), 20);
});
