// (s) The trading-bot SLO (issue 12): balance checks at a fixed 500 calls/s, open-loop (lib/open-loop.ts),
// single JSON-RPC eth_getBalance calls at "latest", half of them to 50 hot accounts, the rest each to
// an account never asked for; the node answers after 5 ms. Through the proxy and direct to the mock,
// alternating in the same run. Goals through the proxy: p50 < 5 ms, p95 < 10 ms, p99 < 25 ms.
import { fmtMs, fmtRatio, freshTag, goal, type Ctx, type Goal, type Section } from '../lib/bench.js';
import { median } from '../lib/herd.js';
import { runOpenLoop, type LatencySummary, type OpenLoopResult, type OpenLoopSpec } from '../lib/open-loop.js';
import { cpuSeconds, sleep, type Child } from '../lib/proc.js';
import { startMock, startProxy } from '../lib/stack.js';

export const SLO_RATE = Number(process.env['BENCH_SLO_RATE'] ?? 500);
export const SLO_LATENCY_MS = 5;
const HOT_ACCOUNTS = 50;
const HOT_SHARE = 0.5;
const GOALS = { p50ms: 5, p95ms: 10, p99ms: 25 } as const;

interface Run {
  result: OpenLoopResult;
  /** Node calls (eth_getBalance) the mock saw during the measured run. */
  nodeCalls?: number;
  /** Proxy CPU (user + system) per call over the measured run. */
  cpuUsPerCall?: number;
}

function badCount(r: OpenLoopResult): number {
  return r.non2xx + r.rpcErrors + r.errors;
}

/** Medians over rounds of each percentile (one round: that round). */
function med(runs: Run[], pick: (r: OpenLoopResult) => LatencySummary): LatencySummary {
  const m = (f: (s: LatencySummary) => number) => median(runs.map((r) => f(pick(r.result))));
  return { count: runs.reduce((s, r) => s + pick(r.result).count, 0), p50ms: m((s) => s.p50ms), p95ms: m((s) => s.p95ms), p99ms: m((s) => s.p99ms), p999ms: m((s) => s.p999ms), maxms: Math.max(...runs.map((r) => pick(r.result).maxms)) };
}

function row(name: string, runs: Run[]): string {
  const all = med(runs, (r) => r.all);
  const hot = med(runs, (r) => r.hot);
  const distinct = med(runs, (r) => r.distinct);
  const calls = runs.reduce((s, r) => s + r.result.scheduled, 0);
  const secs = runs.reduce((s, r) => s + r.result.seconds, 0);
  const bad = runs.reduce((s, r) => s + badCount(r.result), 0);
  const lag = Math.max(...runs.map((r) => r.result.sendLagP99ms));
  const node = runs.every((r) => r.nodeCalls !== undefined) ? `${runs.reduce((s, r) => s + (r.nodeCalls ?? 0), 0).toLocaleString('en-US')} (${((100 * runs.reduce((s, r) => s + (r.nodeCalls ?? 0), 0)) / Math.max(1, calls)).toFixed(0)} %)` : '—';
  const cpu = runs.every((r) => r.cpuUsPerCall !== undefined) ? median(runs.map((r) => r.cpuUsPerCall ?? NaN)).toFixed(0) : '—';
  return `| ${name} | ${calls.toLocaleString('en-US')} | ${(calls / secs).toFixed(0)} | ${fmtMs(all.p50ms)} | ${fmtMs(all.p95ms)} | ${fmtMs(all.p99ms)} | ${fmtMs(all.p999ms)} | ${fmtMs(all.maxms)} | ${fmtMs(hot.p50ms)} / ${fmtMs(hot.p99ms)} | ${fmtMs(distinct.p50ms)} / ${fmtMs(distinct.p99ms)} | ${node} | ${cpu} | ${fmtMs(lag)} | ${bad} |`;
}

export async function scenarioSlo(ctx: Ctx): Promise<Section> {
  const children: Child[] = [];
  const mock = await startMock(ctx.env, { latencyMs: SLO_LATENCY_MS });
  children.push(mock.child);
  try {
    const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin });
    children.push(proxy.child);
    const seed = Date.now() % 0x7fffffff;
    const spec = (origin: string, durationSec: number): OpenLoopSpec => ({
      origin,
      rate: SLO_RATE,
      durationSec,
      connections: ctx.opts.connections,
      timeoutMs: 5000,
      workload: { kind: 'evm-balance-mix', path: '/rpc', hotAccounts: HOT_ACCOUNTS, hotShare: HOT_SHARE, tag: freshTag(), seed },
    });
    const targets = [
      { name: 'direct to mock node', origin: mock.origin, pid: undefined as number | undefined, runs: [] as Run[] },
      { name: 'ledgerproxy', origin: proxy.origin, pid: proxy.child.pid as number | undefined, runs: [] as Run[] },
    ];
    for (let round = 0; round < ctx.opts.rounds; round++) {
      ctx.log(`  round ${round + 1}/${ctx.opts.rounds}`);
      for (const t of targets) {
        if (ctx.opts.warmupSec > 0) await runOpenLoop(ctx.env, spec(t.origin, ctx.opts.warmupSec));
        await mock.reset();
        const cpu0 = t.pid === undefined ? 0 : cpuSeconds(t.pid);
        const result = await runOpenLoop(ctx.env, spec(t.origin, ctx.opts.durationSec));
        const run: Run = { result };
        if (t.pid !== undefined) {
          run.cpuUsPerCall = ((cpuSeconds(t.pid) - cpu0) * 1e6) / Math.max(1, result.scheduled);
          await sleep(200);
          run.nodeCalls = (await mock.calls()).rpc_by_method['eth_getBalance'] ?? 0;
        }
        t.runs.push(run);
        const a = result.all;
        ctx.log(`    ${t.name.padEnd(22)} ${result.scheduled} calls in ${result.seconds.toFixed(1)} s  p50 ${fmtMs(a.p50ms)}  p95 ${fmtMs(a.p95ms)}  p99 ${fmtMs(a.p99ms)}  max ${fmtMs(a.maxms)} ms  send lag p99 ${fmtMs(result.sendLagP99ms)} ms${badCount(result) ? `  (${result.non2xx} non-2xx, ${result.rpcErrors} rpc errors, ${result.errors} errors: ${result.firstError ?? ''})` : ''}${run.nodeCalls === undefined ? '' : `  node calls ${run.nodeCalls}`}`);
      }
    }
    const [direct, proxied] = targets;
    const lines = [
      `Workload: ${SLO_RATE} calls/s **open-loop** (call i is sent at t0 + i/${SLO_RATE} s whatever earlier answers do; latency from the *scheduled*`,
      `send to the last body byte, so no coordinated omission), ${ctx.opts.durationSec} s per measured run after ${ctx.opts.warmupSec} s of warm-up at the same rate, single`,
      `JSON-RPC \`eth_getBalance\` at "latest" on \`POST /rpc\`: ${100 * HOT_SHARE} % to ${HOT_ACCOUNTS} hot accounts, the rest each to an account never asked for.`,
      `The mock answers after ${SLO_LATENCY_MS} ms and makes a block per second (so a hot account is a miss once per block). Keep-alive pool of up to`,
      `${ctx.opts.connections} connections (undici) in a driver process of its own. "send lag" is how late the driver itself sent (part of every latency).`,
      'Rows: medians over rounds of each percentile; max is the worst of the rounds; proxy CPU is user+system per call over the measured run.',
      '',
      '| target | calls | calls/s | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | hot p50 / p99 | distinct p50 / p99 | node calls | proxy CPU µs/call | send lag p99 ms | failed |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|',
      ...targets.map((t) => row(t.name, t.runs)),
      '',
    ];
    const goals: Goal[] = [];
    if (direct && proxied) {
      const p = med(proxied.runs, (r) => r.all);
      const d = med(direct.runs, (r) => r.all);
      const bad = proxied.runs.reduce((s, r) => s + badCount(r.result), 0);
      const calls = proxied.runs.reduce((s, r) => s + r.result.scheduled, 0);
      const cached = 1 - proxied.runs.reduce((s, r) => s + (r.nodeCalls ?? 0), 0) / Math.max(1, calls);
      lines.push(
        `Proxy vs direct in this run: p50 ${fmtRatio(p.p50ms / d.p50ms)}, p95 ${fmtRatio(p.p95ms / d.p95ms)}, p99 ${fmtRatio(p.p99ms / d.p99ms)} (added at p99: ${fmtMs(p.p99ms - d.p99ms)} ms).`,
        `Answered without a node call: ${(100 * cached).toFixed(1)} % of the calls (the hot ones, less one miss per hot account per block).`,
        `A median below the node's own ${SLO_LATENCY_MS} ms needs more than half of the calls answered from cache: with ${100 * (1 - HOT_SHARE)} % of them to`,
        'never-seen accounts the median call is a miss, so the p50 goal can only pass if the split or the node latency changes (see the hot column for hits).',
        '',
      );
      const vs = (k: keyof typeof GOALS) => `${fmtMs(p[k])} ms (direct ${fmtMs(d[k])} ms)`;
      const p50Note = cached <= 0.5 ? `; median is a miss by construction (${(100 * cached).toFixed(0)} % from cache)` : '';
      goals.push(goal(`(s) SLO: p50 < ${GOALS.p50ms} ms through the proxy at ${SLO_RATE}/s`, p.p50ms < GOALS.p50ms && bad === 0, `${vs('p50ms')}${p50Note}${bad ? `, ${bad} failed calls` : ''}`));
      goals.push(goal(`(s) SLO: p95 < ${GOALS.p95ms} ms through the proxy`, p.p95ms < GOALS.p95ms && bad === 0, vs('p95ms')));
      goals.push(goal(`(s) SLO: p99 < ${GOALS.p99ms} ms through the proxy`, p.p99ms < GOALS.p99ms && bad === 0, vs('p99ms')));
    }
    return { id: 's', title: `(s) Trading-bot SLO — ${SLO_RATE} eth_getBalance/s open-loop, half to ${HOT_ACCOUNTS} hot accounts, node at ${SLO_LATENCY_MS} ms`, lines, goals };
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}
