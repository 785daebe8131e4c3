// An open-loop, fixed-rate load driver (issue 12, the trading-bot SLO). Request i is due at
// t0 + i / rate and is sent then, whatever the answers before it are doing: a slow answer does not
// hold back the next send (wrk and autocannon are closed-loop: a connection waits for its answer,
// so a stall sends fewer requests and hides itself: coordinated omission). Each latency is timed
// from the request's *scheduled* send to its last body byte, so a late send caused by a busy driver
// or a full connection pool counts against the target too; the driver's own lag is reported apart.
//
// Runs as its own process, like the other drivers (never in the orchestrator's or a server's event
// loop):  node --import tsx bench/lib/open-loop.ts '<OpenLoopSpec JSON>'  → one `OLJSON {...}` line.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import type { DriverEnv } from './driver.js';
import { percentile } from './herd.js';
import { spawnChild } from './proc.js';
import { balanceMixGenerator, type BalanceMix } from './workloads.js';

export interface OpenLoopSpec {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** Requests per second, sent on a fixed schedule. */
  rate: number;
  durationSec: number;
  /** Most sockets the client opens (keep-alive pool); a request finding none free waits, counted. */
  connections: number;
  /** Per-request deadline; a request past it is an error, timed at the deadline. */
  timeoutMs: number;
  workload: BalanceMix;
}

export interface LatencySummary {
  count: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
  p999ms: number;
  maxms: number;
}

export interface OpenLoopResult {
  /** Requests due in the run (rate × duration). */
  scheduled: number;
  /** 200 with a JSON-RPC `result`. */
  ok: number;
  non2xx: number;
  /** 200 with a JSON-RPC `error` (or no `result`). */
  rpcErrors: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** From the first due time to the last answer. */
  seconds: number;
  all: LatencySummary;
  hot: LatencySummary;
  distinct: LatencySummary;
  /** How late the driver itself sent (actual send − scheduled send). */
  sendLagP99ms: number;
  sendLagMaxms: number;
  firstError?: string;
}

function summary(ms: number[]): LatencySummary {
  const s = [...ms].sort((a, b) => a - b);
  return { count: s.length, p50ms: percentile(s, 50), p95ms: percentile(s, 95), p99ms: percentile(s, 99), p999ms: percentile(s, 99.9), maxms: s[s.length - 1] ?? NaN };
}

/** The driver loop itself (runs in the driver process). */
export async function openLoop(spec: OpenLoopSpec): Promise<OpenLoopResult> {
  const pool = new Pool(spec.origin, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: spec.timeoutMs, bodyTimeout: spec.timeoutMs });
  const next = balanceMixGenerator(spec.workload);
  const n = Math.max(1, Math.round(spec.rate * spec.durationSec));
  const calls = Array.from({ length: n }, next); // built before the clock starts
  const interval = 1000 / spec.rate;
  const hot: number[] = [];
  const distinct: number[] = [];
  const lag: number[] = [];
  const r = { ok: 0, non2xx: 0, rpcErrors: 0, errors: 0, firstError: undefined as string | undefined };
  const pending: Array<Promise<void>> = [];
  const t0 = performance.now() + 20;
  let lastEnd = t0;

  const fire = async (i: number, due: number): Promise<void> => {
    const call = calls[i];
    if (!call) return;
    lag.push(performance.now() - due);
    try {
      const res = await pool.request({ path: spec.workload.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: call.body, signal: AbortSignal.timeout(spec.timeoutMs) });
      const text = await res.body.text();
      if (res.statusCode !== 200) r.non2xx++;
      else if (!text.includes('"result"') || text.includes('"error"')) r.rpcErrors++;
      else r.ok++;
      if (res.statusCode !== 200 || !text.includes('"result"')) r.firstError ??= `HTTP ${res.statusCode} ${text.slice(0, 200)}`;
    } catch (err) {
      r.errors++;
      r.firstError ??= (err as Error).message;
    }
    const end = performance.now();
    lastEnd = Math.max(lastEnd, end);
    (call.hot ? hot : distinct).push(end - due);
  };

  await new Promise<void>((resolve) => {
    let i = 0;
    const tick = () => {
      const now = performance.now();
      // Everything due by now goes out now: a late timer never drops or delays the schedule.
      for (; i < n && t0 + i * interval <= now; i++) pending.push(fire(i, t0 + i * interval));
      if (i >= n) return resolve();
      setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  await Promise.all(pending);
  await pool.close();
  lag.sort((a, b) => a - b);
  const out: OpenLoopResult = {
    scheduled: n,
    ok: r.ok,
    non2xx: r.non2xx,
    rpcErrors: r.rpcErrors,
    errors: r.errors,
    seconds: (lastEnd - t0) / 1000,
    all: summary([...hot, ...distinct]),
    hot: summary(hot),
    distinct: summary(distinct),
    sendLagP99ms: percentile(lag, 99),
    sendLagMaxms: lag[lag.length - 1] ?? NaN,
  };
  if (r.firstError !== undefined) out.firstError = r.firstError;
  return out;
}

let runs = 0;

/** Runs the open-loop driver as its own process (registered in proc.ts) and returns its result. */
export async function runOpenLoop(env: DriverEnv, spec: OpenLoopSpec): Promise<OpenLoopResult> {
  const logFile = join(env.tmp, `open-loop-${++runs}.log`);
  const child = spawnChild('open-loop', process.execPath, ['--import', 'tsx', join(env.root, 'bench', 'lib', 'open-loop.ts'), JSON.stringify(spec)], { cwd: env.root, logFile });
  const line = child.waitForLine(/^OLJSON (.*)$/, (spec.durationSec + 30) * 1000 + spec.timeoutMs);
  line.catch(() => undefined);
  const code = await child.exited;
  const m = await line.catch((err: Error) => {
    throw new Error(`open-loop driver failed (exit ${String(code)}): ${err.message}`);
  });
  return JSON.parse(m[1] ?? '{}') as OpenLoopResult;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as OpenLoopSpec;
  // Never outlive the benchmark that started us.
  setInterval(() => {
    if (process.ppid === 1) process.exit(0);
  }, 1000).unref();
  openLoop(spec).then(
    (result) => {
      process.stdout.write(`OLJSON ${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
