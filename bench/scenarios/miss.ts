// (b) Cache miss: every request a distinct pinned view (a new argument each time), node at 5 ms —
// the proxy in front of the mock against the forwarder (node:http + one undici Pool: the runtime's
// floor for a miss) and the mock called directly.
import { aggregate, fmtRatio, freshTag, goal, loadTable, measure, roundRatios, type Aggregate, type Ctx, type Goal, type Section } from '../lib/bench.js';
import type { Child } from '../lib/proc.js';
import { join } from 'node:path';
import { mainThreadProfile, startForwarder, startMock, startProxy } from '../lib/stack.js';
import type { Workload } from '../lib/workloads.js';
import { startBaselines } from '../lib/baseline.js';

export const MISS_LATENCY_MS = 5;

/** The forwarder copying only content-type and content-length of the node's nine answer headers. */
const MINIMAL_ROW = 'same forwarder, 2 of the node\'s headers passed (the floor before 2026-12-03)';

export async function scenarioMiss(ctx: Ctx): Promise<Section> {
  const profiling = ctx.opts.profile === 'b';
  const children: Child[] = [];
  const mock = await startMock(ctx.env, { latencyMs: MISS_LATENCY_MS });
  children.push(mock.child);
  try {
    const cpuProfile = profiling ? { dir: join(ctx.opts.profileDir, `proxy-b-${Date.now()}`) } : undefined;
    const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin, cpuProfile });
    children.push(proxy.child);
    const lv = (await mock.calls()).aptos_version - 1000;
    const path = `/v1/view?ledger_version=${lv}`;
    const workload = (): Workload => ({ kind: 'view-distinct', path, tag: freshTag() });
    const targets: Array<{ name: string; origin: string; pid: number; runs: Aggregate['runs'] }> = [];
    if (!profiling) {
      const fwd = await startForwarder(ctx.env, mock.origin);
      children.push(fwd.child);
      targets.push({ name: 'forwarder (node:http + undici Pool)', origin: fwd.origin, pid: fwd.child.pid, runs: [] });
      // The floor as it was before it passed the node's headers back: shown, not compared against.
      const minimal = await startForwarder(ctx.env, mock.origin, { minimalHeaders: true });
      children.push(minimal.child);
      targets.push({ name: MINIMAL_ROW, origin: minimal.origin, pid: minimal.child.pid, runs: [] });
      targets.push({ name: 'direct to mock node', origin: mock.origin, pid: mock.child.pid, runs: [] });
      for (const base of await startBaselines(ctx, mock.origin)) {
        children.push(base.child);
        targets.push({ name: base.name, origin: base.origin, pid: base.child.pid, runs: [] });
      }
    }
    targets.push({ name: 'ledgerproxy (every call a miss)', origin: proxy.origin, pid: proxy.child.pid, runs: [] });
    for (let round = 0; round < ctx.opts.rounds; round++) {
      ctx.log(`  round ${round + 1}/${ctx.opts.rounds}`);
      for (const t of targets) t.runs.push(await measure(ctx, t.origin, workload, t.name, t.pid));
    }
    // Sanity: through the proxy, every client request must have cost one node call.
    await mock.reset();
    const check = await measure({ ...ctx, opts: { ...ctx.opts, warmupSec: 0, durationSec: Math.min(2, ctx.opts.durationSec) } }, proxy.origin, workload, 'miss check (node calls)');
    await new Promise((r) => setTimeout(r, 300));
    const viewCalls = (await mock.calls()).view;
    const rows = targets.map((t) => ({ name: t.name, agg: aggregate(t.runs) }));
    const direct = rows.find((r) => r.name.startsWith('direct'));
    const fwd = rows.find((r) => r.name.startsWith('forwarder'));
    const prox = rows.find((r) => r.name.startsWith('ledgerproxy'));
    const lines = [
      `Workload: \`POST ${path}\` with a new argument in every body (\`0x<tag><counter>\`), so no request can be served`,
      `from cache or coalesced; the mock answers after ${MISS_LATENCY_MS} ms. ${ctx.opts.connections} connections, ${ctx.opts.connections} / ${MISS_LATENCY_MS} ms = ${Math.round(ctx.opts.connections / (MISS_LATENCY_MS / 1000)).toLocaleString('en-US')} req/s is the latency-bound ceiling.`,
      '"server CPU µs/req": CPU time of the process answering the client (the mock itself when direct, the forwarder or the proxy alone otherwise) per request.',
      'The forwarder passes the node\'s answer back whole, its headers too (the mock sends nine, seven of them x-aptos-*; the proxy passes them all). The row marked "2 of the node\'s headers" is the same forwarder copying only content-type and content-length, as it did before 2026-12-03: shown for comparison, the goals are against the first row.',
      `Check run: ${check.requests.toLocaleString('en-US')} client requests through the proxy cost ${viewCalls.toLocaleString('en-US')} node calls (${(viewCalls / Math.max(1, check.requests)).toFixed(3)} per request).`,
      '',
      ...loadTable(rows, profiling ? 'proxy' : 'forwarder'),
      '',
    ];
    const goals: Goal[] = [];
    if (fwd && prox) {
      const rps = prox.agg.rps / fwd.agg.rps;
      const cpu = (prox.agg.cpuUsPerReq ?? NaN) / (fwd.agg.cpuUsPerReq ?? NaN);
      lines.push(`Per-round proxy/forwarder req/s: ${roundRatios(prox.agg, fwd.agg)}.${direct ? ` Added latency p50 vs direct: ${(prox.agg.p50ms - direct.agg.p50ms).toFixed(2)} ms (forwarder: ${(fwd.agg.p50ms - direct.agg.p50ms).toFixed(2)} ms).` : ''}`, '');
      goals.push(goal('(b) miss CPU/request ≤ 1.5 × forwarder', cpu <= 1.5, `${fmtRatio(cpu)} (${(prox.agg.cpuUsPerReq ?? NaN).toFixed(0)} vs ${(fwd.agg.cpuUsPerReq ?? NaN).toFixed(0)} µs)`));
      goals.push(goal('(b) miss req/s ≥ 0.8 × forwarder', rps >= 0.8, fmtRatio(rps)));
    }
    const section: Section = { id: 'b', title: `(b) Cache miss — distinct views, node at ${MISS_LATENCY_MS} ms, proxy vs forwarder and direct`, lines, goals };
    if (cpuProfile) {
      const served = await proxy.requestsServed();
      await proxy.child.stop('SIGTERM', 15_000);
      section.profiles = [{ label: 'ledgerproxy, miss path', file: mainThreadProfile(cpuProfile.dir), requests: served }];
    }
    return section;
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}
