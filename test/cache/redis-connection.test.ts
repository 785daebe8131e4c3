import { Redis } from 'ioredis';
import t from 'tap';
import { createClient, reconnectDelay, urlOptions } from '../../src/cache/redis-connection.js';

t.test('URL options', async (t) => {
  t.same(urlOptions('rediss://user:p%40ss@[::1]:6380/2'), { host: '::1', port: 6380, username: 'user', password: 'p@ss', db: 2, tls: {} });
  t.same(urlOptions('redis://cache'), { host: 'cache', port: 6379 });
  t.same(urlOptions(undefined), {});
  t.throws(() => urlOptions('http://cache:6379'));
});

t.test('reconnect delay grows, is jittered, and is capped at 2 s', async (t) => {
  for (let i = 0; i < 50; i++) {
    const first = reconnectDelay(0);
    t.ok(first >= 25 && first <= 50, `attempt 0: ${first}`);
    const late = reconnectDelay(40);
    t.ok(late >= 1000 && late <= 2000, `attempt 40: ${late}`);
  }
});

t.test('a connection never queues commands while disconnected, nor replays them', async (t) => {
  const client = createClient({ url: 'redis://127.0.0.1:6379', commandTimeoutMs: 100 }, { lazyConnect: true });
  t.teardown(() => client.disconnect());
  if (!(client instanceof Redis)) throw new Error('one URL makes a plain client');
  t.equal(client.options.enableOfflineQueue, false);
  t.equal(client.options.maxRetriesPerRequest, 0);
  t.equal(client.options.autoResendUnfulfilledCommands, false);
  t.equal(client.options.commandTimeout, 400, 'ioredis waits 4 × our deadline to learn what a late write did');
  t.throws(() => createClient({ sentinels: [{ host: '127.0.0.1', port: 26379 }], commandTimeoutMs: 100 }), 'sentinels need a master name');
});
