// The load driver: wrk when it is installed (a C driver that leaves the most CPU to the server under
// test), autocannon otherwise. Either way it runs as its own process, never inside the proxy's or
// the orchestrator's event loop, and reports the same fields.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild } from './proc.js';
import { wrkScript, type Workload } from './workloads.js';

export type DriverName = 'wrk' | 'autocannon';

export interface DriverInfo {
  name: DriverName;
  /** e.g. "wrk 4.1.0 (1 thread)" */
  description: string;
  /** Latency resolution note for the report. */
  resolution: string;
}

export interface LoadResult {
  driver: DriverName;
  requests: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  /** Non-2xx/3xx answers. */
  non2xx: number;
  /** Connect/read/write errors and timeouts. */
  errors: number;
  /** CPU time (user + system) the server process spent per request during the run, when measured. */
  cpuUsPerReq?: number;
  /** Requests of the warm-up run before this one. */
  warmupRequests?: number;
}

export interface LoadSpec {
  /** http://127.0.0.1:PORT */
  origin: string;
  workload: Workload;
  connections: number;
  durationSec: number;
}

export interface DriverEnv {
  root: string;
  tmp: string;
  wrkThreads: number;
}

export function wrkAvailable(): string | undefined {
  // `wrk -v` prints its version ("wrk 4.2.0" or "wrk debian/4.1.0-3+b2") and exits 1.
  const r = spawnSync('wrk', ['-v'], { stdio: 'pipe' });
  if (r.error) return undefined;
  const text = `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}`;
  return /wrk\s+(?:[a-z]+\/)?([\d.]+)/.exec(text)?.[1] ?? 'unknown';
}

export function pickDriver(requested: string | undefined, wrkThreads: number): DriverInfo {
  const wrkVersion = wrkAvailable();
  const want = requested ?? (wrkVersion ? 'wrk' : 'autocannon');
  if (want === 'wrk') {
    if (!wrkVersion) throw new Error('--driver wrk: wrk is not installed (apt-get install -y wrk), or use --driver autocannon');
    return { name: 'wrk', description: `wrk ${wrkVersion} (${wrkThreads} thread${wrkThreads === 1 ? '' : 's'})`, resolution: 'wrk latencies are µs-exact' };
  }
  if (want !== 'autocannon') throw new Error(`unknown driver ${want} (wrk | autocannon)`);
  return { name: 'autocannon', description: 'autocannon 8 (own process)', resolution: 'autocannon records latencies in whole ms' };
}

let runs = 0;

export async function runLoad(driver: DriverInfo, env: DriverEnv, spec: LoadSpec): Promise<LoadResult> {
  const n = ++runs;
  const logFile = join(env.tmp, `driver-${n}.log`);
  const timeoutMs = (spec.durationSec + 30) * 1000;
  if (driver.name === 'wrk') {
    const script = join(env.tmp, `wrk-${n}.lua`);
    writeFileSync(script, wrkScript(spec.workload));
    const path = spec.workload.kind === 'fixed' ? spec.workload.path : '/';
    const child = spawnChild(
      'wrk',
      'wrk',
      [`-t${env.wrkThreads}`, `-c${spec.connections}`, `-d${Math.max(1, Math.round(spec.durationSec))}s`, '--timeout', '10s', '-s', script, `${spec.origin}${path}`],
      { cwd: env.root, logFile },
    );
    const line = child.waitForLine(/^WRKJSON (.*)$/, timeoutMs);
    line.catch(() => undefined);
    const code = await child.exited;
    const m = await line.catch((err: Error) => {
      throw new Error(`wrk failed (exit ${String(code)}): ${err.message}`);
    });
    const r = JSON.parse(m[1] ?? '{}') as Record<string, number>;
    const seconds = (r.duration_us ?? 0) / 1e6;
    const requests = r.requests ?? 0;
    return {
      driver: 'wrk',
      requests,
      seconds,
      rps: requests / seconds,
      p50ms: (r.p50_us ?? 0) / 1000,
      p99ms: (r.p99_us ?? 0) / 1000,
      maxms: (r.max_us ?? 0) / 1000,
      non2xx: r.status ?? 0,
      errors: (r.connect ?? 0) + (r.read ?? 0) + (r.write ?? 0) + (r.timeout ?? 0),
    };
  }
  const child = spawnChild(
    'autocannon',
    process.execPath,
    ['--import', 'tsx', join(env.root, 'bench', 'autocannon-runner.ts'), JSON.stringify(spec)],
    { cwd: env.root, logFile },
  );
  const line = child.waitForLine(/^ACJSON (.*)$/, timeoutMs);
  line.catch(() => undefined);
  const code = await child.exited;
  const m = await line.catch((err: Error) => {
    throw new Error(`autocannon failed (exit ${String(code)}): ${err.message}`);
  });
  return JSON.parse(m[1] ?? '{}') as LoadResult;
}
