// Child processes of a benchmark run: every one is registered here and killed by its pid when the
// run ends, fails or is interrupted, so a benchmark never leaves a stray server behind.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
  isRunning(): boolean;
  /** The first stdout line matching re (lines seen before the call count too). */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** signal, then SIGKILL after timeoutMs; resolves once the process is gone. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  logTail(lines?: number): string;
}

const live = new Set<Child>();
const spawned = new Map<number, string>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping ${live.size} child process(es)\n`);
      killAllSync();
      process.exit(130);
    });
  }
}

/** Kills every child still running (SIGKILL, by pid). Safe to call more than once. */
export function killAllSync(): void {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Stops every child still running, politely first. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop('SIGTERM', 5000)));
}

export function liveChildren(): Child[] {
  return [...live];
}

/** Processes started by this run (or their children) that still exist, as "pid name". */
export function strayProcesses(): string[] {
  const out: string[] = [];
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    // no /proc: fall back to the pids we know
    pids = [...spawned.keys()].map(String);
  }
  for (const d of pids) {
    const pid = Number(d);
    let ppid = NaN;
    let comm = '';
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      comm = stat.slice(stat.indexOf('(') + 1, close);
      ppid = Number(stat.slice(close + 2).split(' ')[1]);
    } catch {
      continue;
    }
    if (spawned.has(pid)) out.push(`${pid} ${spawned.get(pid) ?? comm}`);
    else if (spawned.has(ppid)) out.push(`${pid} ${comm} (child of ${ppid} ${spawned.get(ppid) ?? ''})`);
  }
  return out;
}

export interface SpawnOptions {
  cwd: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

export function spawnChild(name: string, command: string, args: string[], opts: SpawnOptions): Child {
  installHandlers();
  const proc: ChildProcess = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  const pid = proc.pid;
  spawned.set(pid, name);
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  let partial = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (lines.length < 1000) lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        const m = w ? line.match(w.re) : null;
        if (w && m) {
          waiters.splice(i, 1);
          w.resolve(m);
        }
      }
    }
  });
  proc.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    // 'close', not 'exit': by then stdout has been read to its end.
    proc.on('close', (code) => {
      running = false;
      live.delete(child);
      log.end();
      resolve(code);
    });
  });
  const child: Child = {
    name,
    pid,
    logFile: opts.logFile,
    exited,
    isRunning: () => running,
    waitForLine(re, timeoutMs) {
      const seen = lines.map((l) => l.match(re)).find((m) => m !== null);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms\n${child.logTail()}`)), timeoutMs);
        waiters.push({ re, resolve: (m) => { clearTimeout(timer); resolve(m); } });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${String(code)}) before printing ${re}\n${child.logTail()}`));
        });
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 5000) {
      if (!running) return;
      try {
        process.kill(pid, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    logTail(n = 20) {
      try {
        return readFileSync(opts.logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
      } catch {
        return '';
      }
    },
  };
  live.add(child);
  return child;
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface HttpAnswer {
  status: number;
  /** Raw header pairs, as sent. */
  headers: Array<[string, string]>;
  body: Buffer;
}

/** One request on a fresh connection (no Accept-Encoding unless given): what a load driver would get. */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string> = { ...opts.headers };
    if (body) headers['content-length'] = String(body.length);
    const req = request(url, { method: opts.method ?? 'GET', headers, agent: false, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string]);
        resolve({ status: res.statusCode ?? 0, headers: pairs, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

export function header(a: HttpAnswer, name: string): string | undefined {
  return a.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

export async function getJson<T>(url: string, method = 'GET'): Promise<T> {
  const a = await httpRequest(url, { method });
  if (a.status !== 200) throw new Error(`${method} ${url}: HTTP ${a.status} ${a.body.toString().slice(0, 200)}`);
  return JSON.parse(a.body.toString('utf8')) as T;
}

/** Polls url until it answers 200 (or the child exits, or timeoutMs passes). */
export async function waitHttpOk(url: string, timeoutMs: number, child?: Child): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (child && !child.isRunning()) throw new Error(`${child.name} exited while starting\n${child.logTail()}`);
    try {
      const a = await httpRequest(url, { timeoutMs: 1000 });
      if (a.status === 200) return;
      last = `HTTP ${a.status} ${a.body.toString().slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (${last})${child ? `\n${child.logTail()}` : ''}`);
}

/**
 * Waits until a reference server (nginx, Varnish) answers its `/__warm` probe with 204; kills it
 * and throws with its log tail when it exits or does not answer within timeoutMs.
 */
export async function waitForWarm(child: Child, origin: string, name: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const a = await httpRequest(`${origin}/__warm`, { timeoutMs: 1000 });
      if (a.status === 204) return;
    } catch {
      // not listening yet
    }
    if (!child.isRunning() || Date.now() > until) {
      await child.stop('SIGKILL');
      throw new Error(`${name} did not start\n${child.logTail()}`);
    }
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { stdio: 'pipe' }).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, so rest[0] is field 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) used so far by a process and all its descendants (nginx workers,
 * varnishd's cache child; /proc/PID/stat already sums every thread of a process): the cost of the
 * work itself, which the neighbours on a shared machine do not change much. A descendant that has
 * exited is not counted (nor reaped into its parent's own time), so take both readings while the
 * process tree is stable.
 */
export function cpuSeconds(pid: number): number {
  const own = (f: string[]) => (Number(f[11]) + Number(f[12])) / ticksPerSecond();
  const self = statFields(pid);
  let total = self ? own(self) : 0;
  const children = new Map<number, Array<{ pid: number; fields: string[] }>>();
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const f = statFields(Number(d));
      if (!f) continue;
      const ppid = Number(f[1]);
      const list = children.get(ppid) ?? [];
      list.push({ pid: Number(d), fields: f });
      children.set(ppid, list);
    }
  } catch {
    return total; // no /proc
  }
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    for (const c of children.get(p) ?? []) {
      total += own(c.fields);
      queue.push(c.pid);
    }
  }
  return total;
}

/** Resident set size of a process in bytes (VmRSS), and its peak (VmHWM); undefined when gone. */
export function procMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}
