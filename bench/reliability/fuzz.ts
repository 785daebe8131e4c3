// The long fuzz run: N generated abusive requests (default 100,000) against a proxy *process* in
// front of mock Aptos, EVM and Neo nodes, C at a time. Every answer must be a well-formed error in
// the route's dialect or a legitimate answer; no 500 made by the proxy, no stack trace, no hang, no
// crash, no smuggled request reaching a node, and normal requests keep working throughout.
//
//   npx tsx bench/reliability/fuzz.ts [--requests 100000] [--concurrency 16] [--seed 1]
//        [--root DIR] [--report out.json] [--rss-every-ms 5000] [--canary-every 1000]
//
// Exits 0 when there was no violation, 1 otherwise (2 when it could not run).
import { writeFileSync } from 'node:fs';
import { startAptosNode } from '../../test/support/aptos-node.js';
import { startJsonRpcNode } from '../../test/support/jsonrpc-node.js';
import {
  canary,
  cliArgs,
  Counter,
  FUZZ_TARGET,
  fuzzProxyConfig,
  killAllChildren,
  makeFuzzCase,
  mib,
  percentile,
  pool,
  ROOT,
  runCase,
  simpleGet,
  startProxyProcess,
} from './common.js';

const args = cliArgs(process.argv.slice(2));
const requests = Number(args.get('requests') ?? 100_000);
const concurrency = Number(args.get('concurrency') ?? 16);
const seed = Number(args.get('seed') ?? 1);
const root = args.get('root') ?? ROOT;
const reportFile = args.get('report');
const rssEveryMs = Number(args.get('rss-every-ms') ?? 5000);
const canaryEvery = Number(args.get('canary-every') ?? 1000);
const maxMinutes = Number(args.get('max-minutes') ?? 30);
/** Only cases whose category starts with this (e.g. `rpc-`, `http-keepalive`): to find which family misbehaves. */
const only = args.get('only');

interface Violation {
  n: number;
  category: string;
  status: string;
  problems: string[];
}

async function main(): Promise<number> {
  const aptos = await startAptosNode({ version: FUZZ_TARGET.aptosVersion });
  const evm = await startJsonRpcNode({ flavor: 'evm', head: FUZZ_TARGET.evmHead });
  const neo = await startJsonRpcNode({ flavor: 'neo', head: FUZZ_TARGET.neoHead });
  const nodes = [aptos, evm, neo];
  const proxy = await startProxyProcess({ ...fuzzProxyConfig({ aptos: aptos.url, evm: evm.url, neo: neo.url }), root, requireDist: args.has('require-dist') });
  console.log(`fuzz: ${requests} requests, concurrency ${concurrency}, seed ${seed}; proxy pid ${proxy.pid} (${proxy.command})`);

  const byStatus = new Counter();
  const byCode = new Counter();
  const byCategory = new Counter();
  const violationsByCategory = new Counter();
  const examples: Violation[] = [];
  const latencies: number[] = [];
  let violations = 0;
  let crashed: string | undefined;
  let done = 0;
  const rss: Array<{ atS: number; done: number; rss: number; heap?: number; external?: number }> = [];
  const t0 = performance.now();
  const deadline = Date.now() + maxMinutes * 60_000;

  const note = (v: Violation): void => {
    violations++;
    violationsByCategory.add(v.category.split('/')[0] ?? v.category);
    if (examples.length < 60) examples.push(v);
  };
  let stopping = false;
  void proxy.exited.then((e) => {
    if (!stopping) crashed = `proxy exited (code ${String(e.code)}, signal ${String(e.signal)}) after ${done} requests:\n${proxy.logTail(40)}`;
  });

  const sampleRss = (): void => {
    const v = proxy.rss();
    if (v === undefined) return;
    const s = { atS: (performance.now() - t0) / 1000, done, rss: v } as (typeof rss)[number];
    rss.push(s);
    // Heap and off-heap memory as the proxy reports them, to tell a heap leak from RSS noise.
    void simpleGet(proxy.adminPort, '/metrics', 2000).then(
      (m) => {
        const text = m.body.toString('utf8');
        const num = (name: string) => Number(new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)`, 'm').exec(text)?.[1] ?? NaN);
        s.heap = num('ledgerproxy_nodejs_heap_size_used_bytes');
        s.external = num('ledgerproxy_nodejs_external_memory_bytes');
      },
      () => undefined,
    );
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, rssEveryMs);
  // Smuggled requests must never reach a node: scan what the nodes received, then forget it (bounded memory).
  const scanNodes = (): void => {
    for (const r of aptos.requests) if (r.path.includes('smuggled-')) note({ n: -1, category: 'smuggling', status: 'upstream', problems: [`the Aptos node received ${r.method} ${r.path}`] });
    for (const node of [evm, neo]) {
      for (const h of node.httpRequests) {
        const text = h.body.toString('latin1');
        if (/GET \/v1\/smuggled-\d+ HTTP/.test(text) && !text.includes('"params"')) note({ n: -1, category: 'smuggling', status: 'upstream', problems: ['a JSON-RPC node received a smuggled request line'] });
      }
    }
    for (const node of nodes) node.resetCalls();
  };
  const scanTimer = setInterval(scanNodes, 2000);

  let cursor = 0;
  const nextMatching = () => {
    for (;;) {
      const c = makeFuzzCase(seed, cursor++);
      if (c.category.startsWith(only ?? '')) return c;
    }
  };
  try {
    const first = await canary(proxy.trafficPort);
    if (first) throw new Error(`the proxy does not answer normal requests before the run: ${first}`);
    await pool(
      requests,
      concurrency,
      async (i) => {
        const c = only === undefined ? makeFuzzCase(seed, i) : nextMatching();
        const { outcome } = await runCase(proxy.trafficPort, c);
        done++;
        byCategory.add(c.category.split('/')[0] ?? c.category);
        byStatus.add(outcome.status);
        if (outcome.code !== undefined) byCode.add(`${outcome.status} ${outcome.code}`);
        if (latencies.length < 200_000) latencies.push(outcome.ms);
        if (outcome.violations.length > 0) note({ n: i, category: c.category, status: outcome.status, problems: outcome.violations });
        if (canaryEvery > 0 && i % canaryEvery === canaryEvery - 1) {
          const bad = await canary(proxy.trafficPort);
          if (bad) note({ n: i, category: 'canary', status: 'canary', problems: [bad] });
        }
        if (done % 10_000 === 0) {
          const s = (performance.now() - t0) / 1000;
          console.log(`  ${done} done, ${(done / s).toFixed(0)} req/s, ${violations} violations, rss ${mib(proxy.rss())}`);
        }
      },
      () => crashed !== undefined || Date.now() > deadline,
    );
    scanNodes();
    const last = crashed ? 'proxy gone' : await canary(proxy.trafficPort);
    if (last) note({ n: requests, category: 'canary', status: 'after', problems: [`normal request after the run: ${last}`] });
  } finally {
    clearInterval(rssTimer);
    clearInterval(scanTimer);
  }
  sampleRss();
  const seconds = (performance.now() - t0) / 1000;
  stopping = true;
  const exit = await proxy.stop('SIGTERM', 10_000);
  if (crashed) note({ n: done, category: 'crash', status: 'exit', problems: [crashed] });
  else if (exit.code !== 0) note({ n: done, category: 'shutdown', status: 'exit', problems: [`SIGTERM exit code ${String(exit.code)} signal ${String(exit.signal)}`] });
  await Promise.all(nodes.map((n) => n.close()));

  latencies.sort((a, b) => a - b);
  const rssStart = rss[0]?.rss;
  const rssMax = Math.max(...rss.map((r) => r.rss));
  const rssEnd = rss.at(-1)?.rss;
  const report = {
    requests: done,
    planned: requests,
    seconds: Number(seconds.toFixed(1)),
    rate: Number((done / seconds).toFixed(0)),
    concurrency,
    seed,
    proxy: proxy.command,
    violations,
    violationRate: done === 0 ? 0 : violations / done,
    byCategory: Object.fromEntries(byCategory.sorted()),
    byStatus: Object.fromEntries(byStatus.sorted()),
    byCode: Object.fromEntries(byCode.sorted().slice(0, 40)),
    violationsByCategory: Object.fromEntries(violationsByCategory.sorted()),
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
    rss: { startBytes: rssStart, maxBytes: rssMax, endBytes: rssEnd, samples: rss.map((r) => [Number(r.atS.toFixed(1)), r.done, r.rss, r.heap ?? null, r.external ?? null]) },
    only: only ?? null,
    shutdown: exit,
    examples,
  };
  console.log(`\nfuzz: ${done} requests in ${seconds.toFixed(1)} s (${report.rate} req/s), ${violations} violations`);
  console.log(`  by family: ${JSON.stringify(report.byCategory)}`);
  console.log(`  by status: ${JSON.stringify(report.byStatus)}`);
  console.log(`  by status + error code: ${JSON.stringify(report.byCode)}`);
  console.log(`  latency p50 ${report.latencyMs.p50.toFixed(1)} ms, p99 ${report.latencyMs.p99.toFixed(1)} ms, max ${report.latencyMs.max.toFixed(0)} ms`);
  console.log(`  RSS start ${mib(rssStart)}, max ${mib(rssMax)}, end ${mib(rssEnd)} (${rss.length} samples); heap used ${mib(rss.find((r) => r.heap)?.heap)} → ${mib([...rss].reverse().find((r) => r.heap)?.heap)}; SIGTERM exit ${String(exit.code)}`);
  if (violations > 0) {
    console.log(`  violations by family: ${JSON.stringify(report.violationsByCategory)}`);
    for (const e of examples.slice(0, 25)) console.log(`  ✗ #${e.n} ${e.category} → ${e.status}: ${e.problems.join('; ').slice(0, 400)}`);
  }
  if (reportFile) writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  return violations > 0 ? 1 : 0;
}

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(`fuzz: ${(err as Error).stack ?? String(err)}`);
    killAllChildren();
    process.exit(2);
  },
);
