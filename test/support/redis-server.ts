// A private redis-server for tests that kill, pause or restart Redis: the shared one at 6379 must
// keep serving the other test files that run in parallel. No persistence, so a restart starts empty.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: the socket dies without a goodbye, as in a crash or an OOM kill. */
  kill(): Promise<void>;
  /** Starts again on the same port (after kill()). */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers, as with a Redis stuck in a long command. */
  pause(): void;
  resume(): void;
  /** Kills the server if it runs; safe to call twice. For t.teardown. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** Resolves true when something on the port answers PING with +PONG within timeoutMs. */
export function ping(port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export interface StartOptions {
  port?: number;
  /** Extra redis-server arguments. */
  args?: string[];
}

/** The port was taken between freePort() and the server's bind (another process got it meanwhile). */
export class PortTakenError extends Error {
  constructor(readonly port: number) {
    super(`redis-server could not listen on port ${port} (exited at start-up)`);
    this.name = 'PortTakenError';
  }
}

/** The process_id a Redis on the port reports (INFO server), or undefined when none answers. */
export function serverPid(port: number, timeoutMs = 500): Promise<number | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (pid: number | undefined): void => {
      sock.destroy();
      resolve(pid);
    };
    sock.setTimeout(timeoutMs, () => done(undefined));
    sock.once('error', () => done(undefined));
    sock.once('connect', () => sock.write('INFO server\r\n'));
    sock.on('data', (d) => {
      text += d.toString();
      const m = /process_id:(\d+)\r\n/.exec(text);
      if (m) done(Number(m[1]));
      else if (!text.startsWith('$')) done(undefined);
    });
  });
}

/**
 * A redis-server on a kernel-given port. The port is free when freePort() asks, but something else
 * may take it before the server binds (the suite's files run in parallel): then the server exits
 * at once, and it is started again on another port.
 */
export async function startRedis(opts: StartOptions = {}): Promise<TestRedis> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOn(opts.port ?? (await freePort()), opts.args ?? []);
    } catch (err) {
      if (opts.port !== undefined || !(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}

async function startRedisOn(p: number, extraArgs: string[]): Promise<TestRedis> {
  const args = ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs];
  let proc: ChildProcess | undefined;
  let paused = false;

  const start = async (): Promise<void> => {
    if (proc) throw new Error('redis-server already running');
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    const child = proc;
    // Should the test process die without its teardown, do not leave a server behind.
    const reap = (): void => void child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => {
      process.removeListener('exit', reap);
      if (proc === child) proc = undefined;
    });
    // Ready when the server on the port is this one (not whatever else may hold the port), and
    // given up as soon as this one exited. 10 s: a spawn on a loaded machine can take seconds.
    await waitUntil(async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new PortTakenError(p);
      return (await serverPid(p)) === child.pid;
    }, 10_000, `redis-server on port ${p} did not answer`);
  };

  const kill = async (): Promise<void> => {
    const child = proc;
    if (!child || child.exitCode !== null) return void (proc = undefined);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL'); // also ends a SIGSTOPped process
    paused = false;
    await exited;
    proc = undefined;
  };

  const signal = (sig: NodeJS.Signals): void => {
    if (!proc) throw new Error('redis-server not running');
    proc.kill(sig);
  };

  await start();
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    kill,
    start,
    pause: () => ((paused = true), signal('SIGSTOP')),
    resume: () => ((paused = false), signal('SIGCONT')),
    stop: async () => {
      if (paused) signal('SIGCONT');
      await kill();
    },
  };
}

/** Polls cond every 25 ms until it holds; throws after timeoutMs. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(25);
  }
}

export interface TestCluster {
  readonly nodes: TestClusterNode[];
  /** 'host:port' of every master, for RedisStoreConfig.cluster. */
  readonly seeds: string[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of n masters, no replicas. Slots are assigned and nodes introduced directly
 * (ADDSLOTS + MEET) rather than through `redis-cli --cluster create`, which sleeps whole seconds.
 */
export async function startCluster(n = 3): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lp-cluster-'));
  const nodes: TestClusterNode[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) nodes.push(await startClusterNode(dir));
    await formCluster(nodes);
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, seeds: nodes.map((node) => `127.0.0.1:${node.port}`), stop };
}

export interface TestClusterNode extends TestRedis {
  /** The cluster bus port, asked from the kernel like the data port. */
  readonly busPort: number;
}

/**
 * One cluster-enabled redis-server. The bus port is chosen explicitly (`--cluster-port`): by default
 * Redis takes data port + 10000, which for a kernel-given port above 55535 is past 65535 (Redis
 * refuses to start) and otherwise may be a port something else on the machine already holds.
 */
export async function startClusterNode(dir: string, args: string[] = []): Promise<TestClusterNode> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let busPort = await freePort();
    while (busPort === port) busPort = await freePort();
    const conf = path.join(dir, `nodes-${port}.conf`);
    try {
      const node = await startRedis({ port, args: ['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', conf, '--dir', dir, ...args] });
      return Object.assign(node, { busPort });
    } catch (err) {
      // Either port taken meanwhile (see startRedis): two new ones.
      if (!(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}

async function formCluster(nodes: TestClusterNode[]): Promise<void> {
  const ports = nodes.map((node) => node.port);
  const clients = ports.map((port) => new Redis({ port, host: '127.0.0.1', lazyConnect: false }));
  try {
    const per = Math.ceil(16384 / ports.length);
    for (const [i, client] of clients.entries()) {
      const slots = Array.from({ length: Math.min(per, 16384 - i * per) }, (_, k) => i * per + k);
      await client.call('CLUSTER', 'ADDSLOTS', ...slots.map(String));
    }
    const first = clients[0];
    if (!first) throw new Error('empty cluster');
    for (const node of nodes.slice(1)) await first.call('CLUSTER', 'MEET', '127.0.0.1', String(node.port), String(node.busPort));
    const ok = async (c: Redis): Promise<boolean> => {
      const info = String(await c.call('CLUSTER', 'INFO'));
      return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${ports.length}`);
    };
    // A master turns ok no sooner than 2 s after its start (Redis's writable delay); the margin
    // is for a machine running the whole suite in parallel.
    await waitUntil(async () => (await Promise.all(clients.map(ok))).every(Boolean), 30_000, 'cluster_state:ok');
  } finally {
    clients.forEach((c) => c.disconnect());
  }
}
