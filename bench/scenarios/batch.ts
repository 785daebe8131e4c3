// (d) JSON-RPC batches of 20 eth_call / eth_getBalance at "latest". Two workloads: (1) 18 of every 20
// calls repeat (drawn from 100 hot calls), 2 are new: how many calls reach the node, and the batch
// rate next to the node's own; (2) all 20 calls new: the proxy's CPU and p99 per batch against the
// forwarder (node:http + one undici Pool) passing the same batches. `--profile d` profiles (2).
import { aggregate, fmtRatio, freshTag, goal, loadTable, measure, type Aggregate, type Ctx, type Goal, type Section } from '../lib/bench.js';
import { runLoad } from '../lib/driver.js';
import type { Child } from '../lib/proc.js';
import { sleep } from '../lib/proc.js';
import { join } from 'node:path';
import { mainThreadProfile, startForwarder, startMock, startProxy, type Mock, type MockCalls } from '../lib/stack.js';
import type { Workload } from '../lib/workloads.js';
import { startBaselines } from '../lib/baseline.js';

const BATCH = 20;
const UNIQUE_EVERY = 10;
const HOT = 100;
export const BATCH_LATENCY_MS = 5;

function readCalls(c: MockCalls): number {
  return (c.rpc_by_method['eth_call'] ?? 0) + (c.rpc_by_method['eth_getBalance'] ?? 0);
}

/** (2): every call of every batch new; the proxy against the forwarder passing the same batches. */
async function newCallsSection(ctx: Ctx, mock: Mock, children: Child[]): Promise<{ lines: string[]; goals: Goal[]; profiles?: Section['profiles'] }> {
  const profiling = ctx.opts.profile === 'd';
  const cpuProfile = profiling ? { dir: join(ctx.opts.profileDir, `proxy-d-${Date.now()}`) } : undefined;
  const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin, cpuProfile });
  children.push(proxy.child);
  const workload = (): Workload => ({ kind: 'rpc-batch', path: '/rpc', size: BATCH, uniqueEvery: 1, hot: HOT, tag: freshTag() });
  const targets: Array<{ name: string; origin: string; pid: number; runs: Aggregate['runs'] }> = [];
  if (!profiling) {
    const fwd = await startForwarder(ctx.env, mock.origin);
    children.push(fwd.child);
    targets.push({ name: 'forwarder (node:http + undici Pool)', origin: fwd.origin, pid: fwd.child.pid, runs: [] });
    for (const base of await startBaselines(ctx, mock.origin)) {
      children.push(base.child);
      targets.push({ name: base.name, origin: base.origin, pid: base.child.pid, runs: [] });
    }
  }
  targets.push({ name: 'ledgerproxy (20 new calls)', origin: proxy.origin, pid: proxy.child.pid, runs: [] });
  for (let round = 0; round < ctx.opts.rounds; round++) {
    ctx.log(`  20 new calls, round ${round + 1}/${ctx.opts.rounds}`);
    for (const t of targets) t.runs.push(await measure(ctx, t.origin, workload, t.name, t.pid));
  }
  await mock.reset();
  const check = await measure({ ...ctx, opts: { ...ctx.opts, warmupSec: 0, durationSec: Math.min(2, ctx.opts.durationSec) } }, proxy.origin, workload, 'new-calls check (node)');
  await sleep(300);
  const c = await mock.calls();
  const upstreamPerBatch = (c.rpc_http - (c.rpc_by_method['eth_blockNumber'] ?? 0)) / Math.max(1, check.requests);
  const rows = targets.map((t) => ({ name: t.name, agg: aggregate(t.runs) }));
  const lines = [
    `Workload (2): the same batches with every one of the ${BATCH} calls new (never seen before), so every call is a miss; CPU is per batch.`,
    `Check run: ${check.requests.toLocaleString('en-US')} batches through the proxy cost ${readCalls(c).toLocaleString('en-US')} node calls in ${upstreamPerBatch.toFixed(2)} upstream HTTP requests per batch.`,
    '',
    ...loadTable(rows, profiling ? 'proxy' : 'forwarder'),
    '',
  ];
  const goals: Goal[] = [];
  const fwd = rows.find((r) => r.name.startsWith('forwarder'));
  const prox = rows.find((r) => r.name.startsWith('ledgerproxy'));
  if (fwd && prox) {
    const cpu = (prox.agg.cpuUsPerReq ?? NaN) / (fwd.agg.cpuUsPerReq ?? NaN);
    const p99 = prox.agg.p99ms / fwd.agg.p99ms;
    goals.push(goal('(d) batch of 20 new calls: CPU/batch ≤ 3 × forwarder', cpu <= 3, `${fmtRatio(cpu)} (${(prox.agg.cpuUsPerReq ?? NaN).toFixed(0)} vs ${(fwd.agg.cpuUsPerReq ?? NaN).toFixed(0)} µs)`));
    goals.push(goal('(d) batch of 20 new calls: p99 ≤ 3 × forwarder', p99 <= 3, `${fmtRatio(p99)} (${prox.agg.p99ms.toFixed(1)} vs ${fwd.agg.p99ms.toFixed(1)} ms), req/s ${fmtRatio(prox.agg.rps / fwd.agg.rps)}`));
  }
  if (!cpuProfile) return { lines, goals };
  const served = await proxy.requestsServed();
  await proxy.child.stop('SIGTERM', 15_000);
  return { lines, goals, profiles: [{ label: 'ledgerproxy, batch of 20 new calls', file: mainThreadProfile(cpuProfile.dir), requests: served }] };
}

export async function scenarioBatch(ctx: Ctx): Promise<Section> {
  const children: Child[] = [];
  const mock = await startMock(ctx.env, { latencyMs: BATCH_LATENCY_MS });
  children.push(mock.child);
  try {
    if (ctx.opts.profile === 'd') {
      const s = await newCallsSection(ctx, mock, children);
      return { id: 'd', title: `(d) JSON-RPC batch of ${BATCH} new calls, node at ${BATCH_LATENCY_MS} ms (profiled)`, lines: s.lines, goals: s.goals, ...(s.profiles ? { profiles: s.profiles } : {}) };
    }
    const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin });
    children.push(proxy.child);
    const workload = (): Workload => ({ kind: 'rpc-batch', path: '/rpc', size: BATCH, uniqueEvery: UNIQUE_EVERY, hot: HOT, tag: freshTag() });
    const direct: Aggregate['runs'] = [];
    const proxied: Aggregate['runs'] = [];
    let clientCalls = 0;
    let nodeCalls = 0;
    let nodeRequests = 0;
    for (let round = 0; round < ctx.opts.rounds; round++) {
      ctx.log(`  round ${round + 1}/${ctx.opts.rounds}`);
      direct.push(await measure(ctx, mock.origin, workload, 'direct to mock node'));
      // Node counters cover the measured proxy run only: warm up first, then reset them.
      if (ctx.opts.warmupSec > 0) {
        await runLoad(ctx.driver, ctx.env, { origin: proxy.origin, workload: workload(), connections: ctx.opts.connections, durationSec: ctx.opts.warmupSec });
      }
      await mock.reset();
      const p = await measure({ ...ctx, opts: { ...ctx.opts, warmupSec: 0 } }, proxy.origin, workload, 'ledgerproxy');
      await sleep(300);
      const c = await mock.calls();
      proxied.push(p);
      clientCalls += p.requests * BATCH;
      nodeCalls += readCalls(c);
      nodeRequests += c.rpc_http - (c.rpc_by_method['eth_blockNumber'] ?? 0);
    }
    const rows = [
      { name: 'direct to mock node', agg: aggregate(direct) },
      { name: 'ledgerproxy', agg: aggregate(proxied) },
    ];
    const fraction = nodeCalls / Math.max(1, clientCalls);
    const lines = [
      `Workload (1): \`POST /rpc\`, a batch of ${BATCH} calls (eth_call balanceOf / eth_getBalance alternating, block "latest"): every`,
      `${UNIQUE_EVERY}th call is new, the other ${100 - 100 / UNIQUE_EVERY}% are drawn at random from ${HOT} hot calls. The mock answers after ${BATCH_LATENCY_MS} ms`,
      'and advances one block per second; "latest" is keyed by the proxy\'s head snapshot, so a new head re-misses the hot calls.',
      '',
      ...loadTable(rows, 'direct'),
      '',
      `Through the proxy: ${clientCalls.toLocaleString('en-US')} client calls (in ${(clientCalls / BATCH).toLocaleString('en-US')} batches) cost ${nodeCalls.toLocaleString('en-US')} node calls = **${(100 * fraction).toFixed(1)} %**`,
      `(the floor is ${(100 / UNIQUE_EVERY).toFixed(0)} %: the new calls), sent in ${nodeRequests.toLocaleString('en-US')} upstream HTTP requests (${(nodeRequests / Math.max(1, clientCalls / BATCH)).toFixed(2)} per client batch).`,
      '',
    ];
    const proxyRow = rows[1];
    const directRow = rows[0];
    const goals = [goal('(d) batch: node calls ≤ 15 % of client calls', fraction <= 0.15, `${(100 * fraction).toFixed(1)} %, ${proxyRow && directRow ? `${fmtRatio(proxyRow.agg.rps / directRow.agg.rps)} the direct batch rate` : ''}`)];
    const fresh = await newCallsSection(ctx, mock, children);
    lines.push(...fresh.lines);
    goals.push(...fresh.goals);
    return { id: 'd', title: `(d) JSON-RPC batch of ${BATCH}: 90 % repeats, and 20 new calls against the forwarder; node at ${BATCH_LATENCY_MS} ms`, lines, goals };
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}
