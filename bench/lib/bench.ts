// What every scenario shares: the run context, warm-up + measured load runs, aggregation over
// rounds, goals and the markdown helpers.
import { runLoad, type DriverEnv, type DriverInfo, type LoadResult } from './driver.js';
import { cpuSeconds } from './proc.js';
import { median } from './herd.js';
import type { StackEnv } from './stack.js';
import type { Workload } from './workloads.js';

export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'p' | 's';

export interface RunOptions {
  quick: boolean;
  durationSec: number;
  warmupSec: number;
  rounds: number;
  connections: number;
  /** Scenario run under --cpu-prof (only the proxy target is measured then). */
  profile?: ScenarioId;
  profileDir: string;
  useNginx: boolean;
  /** Varnish reference rows in (a) and (c) (lib/varnish.ts). */
  useVarnish: boolean;
}

export interface Ctx {
  opts: RunOptions;
  env: StackEnv & DriverEnv;
  driver: DriverInfo;
  log(line: string): void;
}

export interface Goal {
  label: string;
  pass: boolean;
  detail: string;
}

export interface Section {
  id: ScenarioId;
  title: string;
  lines: string[];
  goals: Goal[];
  /** CPU profiles written in profile mode, with the requests the profiled process served. */
  profiles?: Array<{ label: string; file: string; requests: number }>;
}

/** A unique digits-only tag (for hex-valid, never-seen-before arguments). */
export function freshTag(): string {
  return `${Date.now() % 1_000_000_000}${Math.floor(Math.random() * 1000)}`.replace(/\D/g, '');
}

/**
 * Warm-up (not measured), then the measured run. `workload` may give a fresh one per call. With
 * `cpuPid`, the CPU time that process (and its children) used during the measured run is reported
 * per request.
 */
export async function measure(ctx: Ctx, origin: string, workload: Workload | (() => Workload), label: string, cpuPid?: number): Promise<LoadResult> {
  const wl = typeof workload === 'function' ? workload : () => workload;
  const base = { origin, connections: ctx.opts.connections };
  let warmupRequests = 0;
  if (ctx.opts.warmupSec > 0) warmupRequests = (await runLoad(ctx.driver, ctx.env, { ...base, workload: wl(), durationSec: ctx.opts.warmupSec })).requests;
  const cpu0 = cpuPid === undefined ? 0 : cpuSeconds(cpuPid);
  const r = await runLoad(ctx.driver, ctx.env, { ...base, workload: wl(), durationSec: ctx.opts.durationSec });
  if (cpuPid !== undefined) r.cpuUsPerReq = ((cpuSeconds(cpuPid) - cpu0) * 1e6) / Math.max(1, r.requests);
  r.warmupRequests = warmupRequests;
  const cpu = r.cpuUsPerReq === undefined ? '' : `  CPU ${r.cpuUsPerReq.toFixed(0)} µs/req`;
  ctx.log(`    ${label.padEnd(28)} ${fmtRps(r.rps).padStart(9)} req/s  p50 ${fmtMs(r.p50ms)} ms  p99 ${fmtMs(r.p99ms)} ms${cpu}${r.non2xx + r.errors > 0 ? `  (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`);
  return r;
}

export interface Aggregate {
  rps: number;
  /** undefined when not measured */
  cpuUsPerReq?: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  runs: LoadResult[];
}

/** Medians over rounds (each round is one measured run). */
export function aggregate(runs: LoadResult[]): Aggregate {
  const cpu = runs.map((r) => r.cpuUsPerReq).filter((x): x is number => x !== undefined);
  return {
    ...(cpu.length > 0 ? { cpuUsPerReq: median(cpu) } : {}),
    rps: median(runs.map((r) => r.rps)),
    p50ms: median(runs.map((r) => r.p50ms)),
    p99ms: median(runs.map((r) => r.p99ms)),
    requests: runs.reduce((s, r) => s + r.requests, 0),
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    runs,
  };
}

export function fmtRps(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function fmtRatio(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a';
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function goal(label: string, pass: boolean, detail: string): Goal {
  return { label, pass, detail };
}

/** The standard load table: one row per target, ratios against the first (reference) row. */
export function loadTable(rows: Array<{ name: string; agg: Aggregate }>, refLabel: string): string[] {
  const ref = rows[0]?.agg;
  const withCpu = rows.some((r) => r.agg.cpuUsPerReq !== undefined);
  const out = [
    `| target | req/s | p50 ms | p99 ms | req/s vs ${refLabel} | p99 vs ${refLabel} |${withCpu ? ' server CPU µs/req |' : ''} non-2xx / errors |`,
    `|---|---:|---:|---:|---:|---:|${withCpu ? '---:|' : ''}---:|`,
  ];
  for (const { name, agg } of rows) {
    const r = ref ? agg.rps / ref.rps : NaN;
    const p = ref ? agg.p99ms / ref.p99ms : NaN;
    const cpu = withCpu ? ` ${agg.cpuUsPerReq === undefined ? 'n/a' : agg.cpuUsPerReq.toFixed(0)} |` : '';
    out.push(`| ${name} | ${fmtRps(agg.rps)} | ${fmtMs(agg.p50ms)} | ${fmtMs(agg.p99ms)} | ${fmtRatio(r)} | ${fmtRatio(p)} |${cpu} ${agg.non2xx} / ${agg.errors} |`);
  }
  return out;
}

/** Per-round ratios (shows how much the noisy machine moved between rounds). */
export function roundRatios(a: Aggregate, b: Aggregate): string {
  const parts = a.runs.map((r, i) => {
    const o = b.runs[i];
    return o ? (r.rps / o.rps).toFixed(2) : 'n/a';
  });
  return parts.join(', ');
}
