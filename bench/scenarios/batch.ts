// (d) JSON-RPC batches of 20 eth_call / eth_getBalance at "latest": 18 of every 20 calls repeat (drawn
// from 100 hot calls), 2 are new. How many calls reach the node, and the batch rate next to the
// node's own.
import { aggregate, fmtRatio, freshTag, goal, loadTable, measure, type Aggregate, type Ctx, type Section } from '../lib/bench.js';
import { runLoad } from '../lib/driver.js';
import type { Child } from '../lib/proc.js';
import { sleep } from '../lib/proc.js';
import { startMock, startProxy, type MockCalls } from '../lib/stack.js';
import type { Workload } from '../lib/workloads.js';

const BATCH = 20;
const UNIQUE_EVERY = 10;
const HOT = 100;
export const BATCH_LATENCY_MS = 5;

function readCalls(c: MockCalls): number {
  return (c.rpc_by_method['eth_call'] ?? 0) + (c.rpc_by_method['eth_getBalance'] ?? 0);
}

export async function scenarioBatch(ctx: Ctx): Promise<Section> {
  const children: Child[] = [];
  const mock = await startMock(ctx.env, { latencyMs: BATCH_LATENCY_MS });
  children.push(mock.child);
  try {
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
      `Workload: \`POST /rpc\`, a batch of ${BATCH} calls (eth_call balanceOf / eth_getBalance alternating, block "latest"): every`,
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
    return { id: 'd', title: `(d) JSON-RPC batch of ${BATCH}, 90 % repeats, node at ${BATCH_LATENCY_MS} ms`, lines, goals };
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}
