// A cluster purge must cover the masters the cluster has *now*: the test forms a 3-master cluster
// with redis-cli, stores keys, adds a 4th master and reshards slots (with their keys) onto it, then
// purges through the client that connected before the reshard. No purged key may survive anywhere.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import t from 'tap';
import { RedisStore } from '../../src/cache/redis-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { compressSegment } from '../../src/response/gzip-splice.js';
import { startClusterNode, waitUntil, type TestRedis } from '../support/redis-server.js';

const run = promisify(execFile);

function entry(text: string): CacheEntry {
  const now = Date.now();
  return { status: 200, headers: [['content-type', 'application/json']], ...compressSegment(Buffer.from(text)), storedAt: now, expiresAt: now + 120_000 };
}

async function redisCli(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`redis-cli ${args.slice(0, 2).join(' ')} failed: ${(e.stdout ?? '').slice(-400)} ${e.stderr ?? ''}`);
  }
}

async function onNode<T>(port: number, f: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ port, host: '127.0.0.1' });
  try {
    return await f(c);
  } finally {
    c.disconnect();
  }
}

t.test('purge after a reshard onto a new master leaves no purged key', async (t) => {
  // `--cluster help` prints to stderr and exits 1: read both streams.
  const help = await run('redis-cli', ['--cluster', 'help']).then((r) => r.stdout + r.stderr, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
  if (!help.includes('reshard')) {
    t.pass('SKIPPED: redis-cli has no --cluster support (reshard), cannot run this test');
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'lp-reshard-'));
  const nodes: TestRedis[] = [];
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 4; i++) nodes.push(await startClusterNode(dir, ['--cluster-node-timeout', '2000']));
  const addr = nodes.map((n) => `127.0.0.1:${n.port}`);
  await redisCli(['--cluster', 'create', ...addr.slice(0, 3), '--cluster-replicas', '0', '--cluster-yes']);
  await waitUntil(async () => String(await onNode(nodes[0]!.port, (c) => c.call('CLUSTER', 'INFO'))).includes('cluster_state:ok'), 15_000, 'cluster ok');

  const store = new RedisStore({ cluster: [addr[0]!], prefix: 'lpr:', commandTimeoutMs: 2000 });
  t.teardown(() => store.close());
  await waitUntil(() => store.connected, 10_000, 'cluster client ready');
  const N = 400;
  await Promise.all(Array.from({ length: N }, (_, i) => store.set(`main:eth_call:${i}`, entry(`"0x${i.toString(16)}"`))));
  t.ok(await store.get('main:eth_call:7'), 'stored before the reshard');

  // A 4th master joins and takes slots (and their keys) from the other three.
  await redisCli(['--cluster', 'add-node', addr[3]!, addr[0]!]);
  // Every master must know the new one before slots can move to it.
  const knowsAll = async (port: number) => {
    const info = String(await onNode(port, (c) => c.call('CLUSTER', 'INFO')));
    return info.includes('cluster_known_nodes:4') && info.includes('cluster_state:ok');
  };
  await waitUntil(async () => (await Promise.all(nodes.map((n) => knowsAll(n.port)))).every(Boolean), 15_000, '4 nodes known everywhere');
  const newId = String(await onNode(nodes[3]!.port, (c) => c.call('CLUSTER', 'MYID'))).trim();
  // check exits 1 until every node agrees on the configuration.
  await waitUntil(async () => (await redisCli(['--cluster', 'check', addr[0]!]).catch(() => '')).includes('All 16384 slots covered'), 15_000, 'slots settled');
  await redisCli(['--cluster', 'reshard', addr[0]!, '--cluster-from', 'all', '--cluster-to', newId, '--cluster-slots', '6000', '--cluster-yes']);
  const onNew = await onNode(nodes[3]!.port, (c) => c.dbsize());
  t.ok(onNew > 0, `the new master holds ${onNew} of the keys`);

  const purged = await store.purge('main:');
  t.equal(purged, N, 'every stored key purged');
  const left = await Promise.all(nodes.map((n) => onNode(n.port, (c) => c.dbsize())));
  t.same(left, [0, 0, 0, 0], 'no key survives on any master');
  t.equal(await store.get('main:eth_call:7'), undefined);
});
