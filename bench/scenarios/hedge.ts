// (f) Hedged reads: a primary and two replicas (mock nodes at 5 ms, each its own process), parsed
// EVM reads that all miss (a new address each), closed-loop clients. Rows, each on a fresh proxy
// against the same nodes: all healthy; replica-0 hung (SIGSTOP after the warm-up: it accepts
// connections and answers nothing); replica-0 slow (20x: 100 ms, from the start) — with hedging
// on, and the same with hedging off as the reference. p50/p99 are the client's, compared with the
// healthy row of the same run; upstream calls are counted by the nodes themselves.
import { Pool } from 'undici';
import { fmtMs, fmtRatio, goal, type Ctx, type Goal, type Section } from '../lib/bench.js';
import { sleep, type Child } from '../lib/proc.js';
import { startMock, startProxy, type Mock, type Proxy } from '../lib/stack.js';

const NODE_MS = 5;
const SLOW_MS = NODE_MS * 20;

interface Row {
  name: string;
  fault: 'none' | 'hung' | 'slow';
  hedge: string;
}

interface RowResult {
  row: Row;
  requests: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  hedges: number;
  upstream: number;
  delayMs: number | undefined;
}

const ROWS: Row[] = [
  { name: 'healthy, hedging on', fault: 'none', hedge: '{ enabled: true }' },
  { name: 'replica hung, hedging on', fault: 'hung', hedge: '{ enabled: true }' },
  { name: 'replica hung, hedging off', fault: 'hung', hedge: '{ enabled: false }' },
  { name: 'replica slow (20x), hedging on (p95 delay)', fault: 'slow', hedge: '{ enabled: true }' },
  { name: 'replica slow (20x), hedging on (fixed 20 ms)', fault: 'slow', hedge: '{ enabled: true, delayMs: 20 }' },
  { name: 'replica slow (20x), hedging off', fault: 'slow', hedge: '{ enabled: false }' },
];

export async function scenarioHedge(ctx: Ctx): Promise<Section> {
  const children: Child[] = [];
  const mocks = await Promise.all([0, 1, 2].map(() => startMock(ctx.env, { latencyMs: NODE_MS })));
  children.push(...mocks.map((m) => m.child));
  try {
    const results: RowResult[] = [];
    for (const row of ROWS) {
      ctx.log(`  ${row.name}`);
      results.push(await runRow(ctx, mocks, row));
    }
    return section(ctx, results);
  } finally {
    for (const m of mocks) resume(m);
    await Promise.all(children.map((c) => c.stop()));
  }
}

async function runRow(ctx: Ctx, mocks: Mock[], row: Row): Promise<RowResult> {
  const [m0, m1, m2] = mocks as [Mock, Mock, Mock];
  await m1.setLatency(row.fault === 'slow' ? SLOW_MS : NODE_MS);
  const proxy = await startProxy(ctx.env, { mockOrigin: m0.origin, yaml: (port, admin) => yaml(port, admin, [m0, m1, m2], row.hedge) });
  try {
    await closedLoop(proxy, ctx.opts.warmupSec * 1000, clientsOf(ctx));
    await Promise.all(mocks.map((m) => m.reset()));
    const hedges0 = (await proxy.metric('ledgerproxy_hedges_total')) ?? 0;
    if (row.fault === 'hung') process.kill(m1.child.pid, 'SIGSTOP');
    const latencies = await closedLoop(proxy, ctx.opts.durationSec * 1000, clientsOf(ctx));
    const status = (await proxy.status()) as unknown as { groups: Array<{ hedge?: { delayMs: number } }> };
    const hedges = ((await proxy.metric('ledgerproxy_hedges_total')) ?? 0) - hedges0;
    resume(m1);
    await sleep(300);
    const upstream = (await Promise.all(mocks.map((m) => m.calls()))).reduce((s, c) => s + (c.rpc_by_method['eth_getBalance'] ?? 0), 0);
    return { row, ...summarise(latencies), hedges, upstream, delayMs: row.hedge.includes('false') ? undefined : status.groups[0]?.hedge?.delayMs };
  } finally {
    resume(m1);
    await proxy.child.stop('SIGTERM', 5_000);
  }
}

function resume(m: Mock): void {
  try {
    process.kill(m.child.pid, 'SIGCONT');
  } catch {
    // already gone
  }
}

const clientsOf = (ctx: Ctx) => Math.min(32, ctx.opts.connections);

function yaml(port: number, adminPort: number, [p, r0, r1]: Mock[], hedge: string): string {
  return `server: { listen: 127.0.0.1:${port}, admin: 127.0.0.1:${adminPort}, shutdown: { drainDelayMs: 0, deadlineMs: 2000 } }
log: { level: warn, requests: silent }
upstreams:
  evm:
    dialect: evm-jsonrpc
    primary: ${p?.origin}/rpc
    replicas: [${r0?.origin}/rpc, ${r1?.origin}/rpc]
    hedge: ${hedge}
routes:
  - { name: evm, match: { pathPrefix: /rpc, methods: [POST] }, upstream: evm, stripPrefix: true }
`;
}

let counter = 0;

/** `clients` loops, each one request at a time, every request a new address (a miss). Latencies in ms; NaN = failed. */
async function closedLoop(proxy: Proxy, ms: number, clients: number): Promise<number[]> {
  const pool = new Pool(proxy.origin, { connections: clients });
  const out: number[] = [];
  const until = performance.now() + ms;
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < until) out.push(await oneRead(pool));
      }),
    );
  } finally {
    await pool.close();
  }
  return out;
}

async function oneRead(pool: Pool): Promise<number> {
  const addr = `0x${(0xbe000000 + counter++).toString(16).padStart(40, '0')}`;
  const started = performance.now();
  try {
    const res = await pool.request({
      path: '/rpc',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [addr, 'latest'] }),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await res.body.text();
    const ok = res.statusCode === 200 && text.includes('"result"');
    return ok ? performance.now() - started : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function summarise(latencies: number[]): Pick<RowResult, 'requests' | 'failed' | 'p50' | 'p99' | 'max'> {
  const good = latencies.filter((l) => !Number.isNaN(l)).sort((a, b) => a - b);
  const q = (p: number) => good[Math.min(good.length - 1, Math.max(0, Math.ceil(p * good.length) - 1))] ?? Number.NaN;
  return { requests: latencies.length, failed: latencies.length - good.length, p50: q(0.5), p99: q(0.99), max: good[good.length - 1] ?? Number.NaN };
}

function section(ctx: Ctx, results: RowResult[]): Section {
  const healthy = results[0];
  const lines = [
    `Workload: ${clientsOf(ctx)} closed-loop clients, \`eth_getBalance(<new address>, "latest")\` through the proxy (every read a miss),`,
    `primary + 2 replicas as mock nodes at ${NODE_MS} ms; hung = replica-0 SIGSTOPped after the warm-up; slow = replica-0 at ${SLOW_MS} ms from the start.`,
    'Each row is a fresh proxy (breaker and latency window start clean). "upstream/client": eth_getBalance calls the nodes counted per client read.',
    '',
    '| row | reads | failed | p50 | p99 | max | p50 / healthy | p99 / healthy | hedges | upstream/client | hedge delay |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) =>
      [
        r.row.name,
        r.requests.toLocaleString('en-US'),
        String(r.failed),
        fmtMs(r.p50),
        fmtMs(r.p99),
        fmtMs(r.max),
        healthy ? fmtRatio(r.p50 / healthy.p50) : '',
        healthy ? fmtRatio(r.p99 / healthy.p99) : '',
        String(r.hedges),
        (r.upstream / Math.max(1, r.requests)).toFixed(3),
        r.delayMs === undefined ? 'off' : `${r.delayMs} ms`,
      ].join(' | ').replace(/^/, '| ').concat(' |'),
    ),
    '',
  ];
  return { id: 'f', title: `(f) Hedged reads — hung and slow replica vs healthy, nodes at ${NODE_MS} ms`, lines, goals: goals(results) };
}

function goals(results: RowResult[]): Goal[] {
  const [healthy, hung, , slow] = results;
  if (!healthy || !hung || !slow) return [];
  const out: Goal[] = [goal('(f) hung replica, hedged: 0 failed reads', hung.failed === 0, `${hung.failed} of ${hung.requests}`)];
  const hungBound = healthy.p99 + (hung.delayMs ?? 0);
  out.push(goal('(f) hung replica: p99 ≤ healthy p99 + hedge delay', hung.p99 <= hungBound, `${fmtMs(hung.p99)} vs ${fmtMs(hungBound)}`));
  const slowBound = healthy.p99 + (slow.delayMs ?? 0);
  out.push(goal('(f) slow replica: p99 ≤ healthy p99 + hedge delay', slow.p99 <= slowBound, `${fmtMs(slow.p99)} vs ${fmtMs(slowBound)}`));
  for (const r of results.filter((x) => x.delayMs !== undefined)) {
    const cap = r.requests * 0.1 + 10;
    out.push(goal(`(f) budget, ${r.row.name}: hedges ≤ 10 % of reads + 10`, r.hedges <= cap, `${r.hedges} for ${r.requests} reads`));
  }
  return out;
}
