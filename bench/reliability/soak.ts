// The soak run: steady, moderate, mixed traffic (cache hits, misses, latest reads, JSON-RPC batches
// over a bounded key space) through a proxy *process* for a fixed time, sampling its RSS every 10 s.
// Every answer is checked against the deterministic mock ledgers (a wrong cached answer is an error,
// not only a failed request).
//
//   npx tsx bench/reliability/soak.ts [--minutes 10] [--concurrency 8] [--rps 300] [--no-redis]
//        [--l1-bytes 2097152] [--sample-every-s 10] [--root DIR] [--report out.json]
//
// Pass criteria (exit 0): error rate <= 0.1 % and RSS flat, i.e. the least-squares slope of RSS over
// the last half of the run is below --max-slope-mib-per-min (default 1 MiB/min). The L1 cache is kept
// small (2 MiB) so that it is full long before the last half: growth there is a leak, not a cache filling.
import { Pool } from 'undici';
import { aptosCoinValue, startAptosNode, APTOS_ACCOUNTS } from '../../test/support/aptos-node.js';
import { evmBalance, startJsonRpcNode } from '../../test/support/jsonrpc-node.js';
import { startRedis, type TestRedis } from '../../test/support/redis-server.js';
import { cliArgs, Counter, killAllChildren, mib, percentile, ROOT, simpleGet, slope, startProxyProcess } from './common.js';

const args = cliArgs(process.argv.slice(2));
const minutes = Number(args.get('minutes') ?? 10);
const concurrency = Number(args.get('concurrency') ?? 8);
const rps = Number(args.get('rps') ?? 300);
const l1Bytes = Number(args.get('l1-bytes') ?? 2 * 1024 * 1024);
const sampleEveryS = Number(args.get('sample-every-s') ?? 10);
const maxSlope = Number(args.get('max-slope-mib-per-min') ?? 1);
const maxErrorRate = Number(args.get('max-error-rate') ?? 0.001);
const root = args.get('root') ?? ROOT;
const reportFile = args.get('report');
const useRedis = !args.has('no-redis');

const ALICE = APTOS_ACCOUNTS.alice;
const BOB = APTOS_ACCOUNTS.bob;
const COIN_STORE = '0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>';
const APTOS_VERSION = 200_000;
const EVM_HEAD = 10_000;
const NEO_HEAD = 10_000;
const EVM_ADDRS = Array.from({ length: 50 }, (_, i) => `0x${(0xbb00 + i).toString(16).padStart(40, '0')}`);

interface Req {
  kind: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** Returns a problem, or undefined when the answer is right. */
  check(status: number, body: string): string | undefined;
}

function rnd(n: number): number {
  return Math.floor(Math.random() * n);
}

function coinCheck(addr: string, version: number | undefined) {
  return (status: number, body: string): string | undefined => {
    if (status !== 200) return `status ${status}: ${body.slice(0, 120)}`;
    const value = (JSON.parse(body) as { data?: { coin?: { value?: string } } }).data?.coin?.value;
    if (value === undefined) return `no coin value: ${body.slice(0, 120)}`;
    if (version !== undefined) return value === aptosCoinValue(addr, version).toString() ? undefined : `wrong value ${value} at ${version}`;
    // A latest read: the value must be the balance at *some* version (alice: base + 7 v).
    const v = (BigInt(value) - aptosCoinValue(addr, 0)) / (aptosCoinValue(addr, 1) - aptosCoinValue(addr, 0));
    return aptosCoinValue(addr, Number(v)).toString() === value ? undefined : `latest value ${value} is no version's balance`;
  };
}

function rpcCheck(expect: Array<string | undefined>, batch: boolean) {
  return (status: number, body: string): string | undefined => {
    if (status !== 200) return `status ${status}: ${body.slice(0, 120)}`;
    const doc = JSON.parse(body) as unknown;
    const list = (batch ? doc : [doc]) as Array<{ id?: unknown; result?: unknown; error?: unknown }>;
    if (!Array.isArray(list) || list.length !== expect.length) return `expected ${expect.length} answers: ${body.slice(0, 120)}`;
    for (const [i, el] of list.entries()) {
      if (el.id !== i) return `answer ${i} has id ${JSON.stringify(el.id)}`;
      if (el.error !== undefined) return `answer ${i} is an error: ${JSON.stringify(el.error).slice(0, 120)}`;
      const want = expect[i];
      if (want !== undefined && el.result !== want) return `answer ${i}: ${String(el.result)} ≠ ${want}`;
    }
    return undefined;
  };
}

function balanceCall(i: number, hot: boolean): { text: string; expect: string | undefined } {
  const addr = EVM_ADDRS[rnd(hot ? 5 : EVM_ADDRS.length)] as string;
  if (!hot && Math.random() < 0.2) return { text: `{"jsonrpc":"2.0","id":${i},"method":"eth_getBalance","params":["${addr}","latest"]}`, expect: undefined };
  const block = 1 + rnd(hot ? 50 : EVM_HEAD - 100);
  return { text: `{"jsonrpc":"2.0","id":${i},"method":"eth_getBalance","params":["${addr}","0x${block.toString(16)}"]}`, expect: `0x${evmBalance(addr, block).toString(16)}` };
}

/** One request of the mix: ~45 % hot pinned reads (hits), ~25 % cold pinned reads (misses), latest reads, batches. */
function nextRequest(): Req {
  const r = Math.random();
  if (r < 0.3) {
    const v = 1 + rnd(300);
    return { kind: 'aptos-hot', method: 'GET', path: `/v1/accounts/${ALICE}/resource/${COIN_STORE}?ledger_version=${v}`, check: coinCheck(ALICE, v) };
  }
  if (r < 0.45) {
    const v = 1 + rnd(APTOS_VERSION - 1000);
    const who = Math.random() < 0.5 ? ALICE : BOB;
    return { kind: 'aptos-cold', method: 'GET', path: `/v1/accounts/${who}/resource/${COIN_STORE}?ledger_version=${v}`, check: coinCheck(who, v) };
  }
  if (r < 0.55) return { kind: 'aptos-latest', method: 'GET', path: `/v1/accounts/${ALICE}/resource/${COIN_STORE}`, check: coinCheck(ALICE, undefined) };
  if (r < 0.6) {
    const v = 1 + rnd(APTOS_VERSION - 1000);
    return {
      kind: 'aptos-view',
      method: 'POST',
      path: `/v1/view?ledger_version=${v}`,
      body: `{"function":"0x1::coin::balance","type_arguments":["0x1::aptos_coin::AptosCoin"],"arguments":["${ALICE}"]}`,
      check: (s, b) => (s !== 200 ? `status ${s}` : b === `["${aptosCoinValue(ALICE, v)}"]` ? undefined : `view ${b.slice(0, 80)} at ${v}`),
    };
  }
  if (r < 0.65) {
    const h = rnd(20_000);
    return { kind: 'aptos-block', method: 'GET', path: `/v1/blocks/by_height/${h}`, check: (s, b) => (s === 200 && b.includes(`"block_height":"${h}"`) ? undefined : `block ${h}: ${s} ${b.slice(0, 80)}`) };
  }
  if (r < 0.85) {
    const hot = Math.random() < 0.5;
    const c = balanceCall(0, hot);
    return { kind: hot ? 'evm-hot' : 'evm-cold', method: 'POST', path: '/evm', body: c.text, check: rpcCheck([c.expect], false) };
  }
  if (r < 0.95) {
    const n = 5 + rnd(16);
    const calls = Array.from({ length: n }, (_, i) => balanceCall(i, Math.random() < 0.5));
    return { kind: 'evm-batch', method: 'POST', path: '/evm', body: `[${calls.map((c) => c.text).join(',')}]`, check: rpcCheck(calls.map((c) => c.expect), true) };
  }
  const n = rnd(NEO_HEAD - 10);
  return {
    kind: 'neo',
    method: 'POST',
    path: '/neo',
    body: `[{"jsonrpc":"2.0","id":0,"method":"getblockhash","params":[${n}]},{"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[]}]`,
    check: rpcCheck([undefined, undefined], true),
  };
}

async function main(): Promise<number> {
  const aptos = await startAptosNode({ version: APTOS_VERSION, autoAdvanceMs: 500 });
  const evm = await startJsonRpcNode({ flavor: 'evm', head: EVM_HEAD, autoAdvanceMs: 1000 });
  const neo = await startJsonRpcNode({ flavor: 'neo', head: NEO_HEAD, autoAdvanceMs: 1000 });
  const nodes = [aptos, evm, neo];
  let redis: TestRedis | undefined;
  if (useRedis) redis = await startRedis();
  const redisYaml = redis ? `\n  redis: { url: "${redis.url}", prefix: "soak:", commandTimeoutMs: 100 }` : '';
  const proxy = await startProxyProcess({
    root,
    requireDist: args.has('require-dist'),
    serverExtra: ['shutdown: { drainDelayMs: 0, deadlineMs: 5000 }'],
    body: `log: { level: warn, requests: silent }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${aptos.url}, head: { pollIntervalMs: 500 } }
  evm: { dialect: evm-jsonrpc, primary: ${evm.url}, head: { pollIntervalMs: 1000 } }
  neo: { dialect: neo-jsonrpc, primary: ${neo.url}, head: { pollIntervalMs: 1000 } }
routes:
  - { name: aptos, match: { pathPrefix: /v1 }, upstream: aptos }
  - { name: evm, match: { pathPrefix: /evm }, upstream: evm, stripPrefix: true }
  - { name: neo, match: { pathPrefix: /neo }, upstream: neo, stripPrefix: true }
cache:
  memory: { maxBytes: ${l1Bytes}, maxEntryBytes: 262144 }${redisYaml}
`,
  });
  console.log(`soak: ${minutes} min, ${concurrency} clients, target ${rps} req/s, L1 ${mib(l1Bytes)}, redis ${redis ? 'on' : 'off'}; proxy pid ${proxy.pid} (${proxy.command})`);

  const client = new Pool(proxy.url, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const byKind = new Counter();
  const errorsByKind = new Counter();
  const cache = new Counter();
  const examples: string[] = [];
  let ok = 0;
  let errors = 0;
  let crashed: string | undefined;
  let stopping = false;
  void proxy.exited.then((e) => {
    if (!stopping) crashed = `proxy exited (code ${String(e.code)}, signal ${String(e.signal)}):\n${proxy.logTail(40)}`;
  });
  const t0 = performance.now();
  const endAt = t0 + minutes * 60_000;
  const samples: Array<{ s: number; rss: number; done: number; heap?: number }> = [];
  const windows: Array<{ s: number; lat: number[]; n: number; errors: number }> = [];
  let win = { s: 0, lat: [] as number[], n: 0, errors: 0 };
  const sample = (): void => {
    const v = proxy.rss();
    const s = (performance.now() - t0) / 1000;
    if (v !== undefined) {
      const point: (typeof samples)[number] = { s, rss: v, done: ok + errors };
      samples.push(point);
      // The V8 heap in use, as the proxy reports it: RSS of a GC'd runtime saw-tooths, the heap tells a leak.
      void simpleGet(proxy.adminPort, '/metrics', 2000).then(
        (m) => {
          const hit = /^ledgerproxy_nodejs_heap_size_used_bytes (\S+)/m.exec(m.body.toString('utf8'));
          if (hit?.[1]) point.heap = Number(hit[1]);
        },
        () => undefined,
      );
    }
    windows.push(win);
    win = { s, lat: [], n: 0, errors: 0 };
    for (const n of nodes) n.resetCalls();
    if (samples.length % 6 === 1) {
      console.log(`  ${s.toFixed(0)} s: ${ok + errors} requests, ${errors} errors, rss ${mib(v)}`);
    }
  };
  sample();
  const timer = setInterval(sample, sampleEveryS * 1000);
  const interval = rps > 0 ? (concurrency * 1000) / rps : 0;

  const worker = async (w: number): Promise<void> => {
    let next = performance.now() + (interval * w) / concurrency;
    while (performance.now() < endAt && crashed === undefined) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next = Math.max(next + interval, performance.now() - interval);
      const req = nextRequest();
      byKind.add(req.kind);
      const started = performance.now();
      let problem: string | undefined;
      try {
        const res = await client.request({
          method: req.method,
          path: req.path,
          headers: req.body ? { 'content-type': 'application/json' } : {},
          body: req.body,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const text = await res.body.text();
        const xc = res.headers['x-cache'];
        cache.add(String(Array.isArray(xc) ? xc[0] : xc ?? 'none').split(' ')[0] ?? 'none');
        problem = req.check(res.statusCode, text);
      } catch (err) {
        problem = `transport: ${(err as Error).message}`;
      }
      const ms = performance.now() - started;
      win.n++;
      if (win.lat.length < 50_000) win.lat.push(ms);
      if (problem) {
        errors++;
        win.errors++;
        errorsByKind.add(req.kind);
        if (examples.length < 30) examples.push(`${req.kind} ${req.method} ${req.path}: ${problem}`);
      } else {
        ok++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  } finally {
    clearInterval(timer);
  }
  sample();
  const seconds = (performance.now() - t0) / 1000;
  await client.close();
  stopping = true;
  const exit = await proxy.stop('SIGTERM', 10_000);
  await Promise.all(nodes.map((n) => n.close()));
  await redis?.stop();

  const total = ok + errors;
  const errorRate = total === 0 ? 1 : errors / total;
  const half = samples.filter((x) => x.s >= seconds / 2);
  const slopeMiBPerMin = slope(half.map((x) => [x.s / 60, x.rss / 1048576]));
  // Secondary figures (reported, not pass criteria): the heap's slope, and the slope of the RSS floor
  // (the lowest sample of each minute), which a leak raises but GC saw-tooth does not.
  const heapSlope = slope(half.filter((x) => x.heap !== undefined).map((x) => [x.s / 60, (x.heap ?? 0) / 1048576]));
  const floors = new Map<number, number>();
  for (const x of half) floors.set(Math.floor(x.s / 60), Math.min(floors.get(Math.floor(x.s / 60)) ?? Infinity, x.rss));
  const floorSlope = slope([...floors].map(([m, v]) => [m, v / 1048576]));
  const rssStart = samples[0]?.rss;
  const rssMax = Math.max(...samples.map((x) => x.rss));
  const rssEnd = samples.at(-1)?.rss;
  const firstFull = windows.find((w) => w.n > 0 && w.s > 0) ?? windows[1];
  const lastFull = [...windows].reverse().find((w) => w.n > 0);
  const p = (w: typeof firstFull, q: number) => (w ? percentile([...w.lat].sort((a, b) => a - b), q) : 0);
  const hits = cache.get('HIT') + cache.get('PARTIAL');
  const report = {
    minutes,
    seconds: Number(seconds.toFixed(1)),
    concurrency,
    targetRps: rps,
    achievedRps: Number((total / seconds).toFixed(1)),
    requests: total,
    errors,
    errorRate,
    byKind: Object.fromEntries(byKind.sorted()),
    errorsByKind: Object.fromEntries(errorsByKind.sorted()),
    xCache: Object.fromEntries(cache.sorted()),
    hitRatio: total === 0 ? 0 : hits / total,
    latencyMs: {
      firstWindow: { p50: p(firstFull, 50), p99: p(firstFull, 99) },
      lastWindow: { p50: p(lastFull, 50), p99: p(lastFull, 99) },
    },
    rss: {
      startBytes: rssStart,
      maxBytes: rssMax,
      endBytes: rssEnd,
      lastHalfSlopeMiBPerMin: Number(slopeMiBPerMin.toFixed(3)),
      lastHalfFloorSlopeMiBPerMin: Number(floorSlope.toFixed(3)),
      lastHalfHeapSlopeMiBPerMin: Number(heapSlope.toFixed(3)),
      heapStartBytes: samples.find((x) => x.heap !== undefined)?.heap,
      heapEndBytes: [...samples].reverse().find((x) => x.heap !== undefined)?.heap,
      samples: samples.map((x) => [Number(x.s.toFixed(0)), x.rss, x.heap ?? null]),
    },
    criteria: { maxSlopeMiBPerMin: maxSlope, maxErrorRate },
    proxy: proxy.command,
    redis: redis !== undefined,
    l1Bytes,
    shutdown: exit,
    crashed,
    examples,
  };
  console.log(`\nsoak: ${total} requests in ${seconds.toFixed(0)} s (${report.achievedRps} req/s of ${rps} targeted), ${errors} errors (${(errorRate * 100).toFixed(4)} %)`);
  console.log(`  by kind: ${JSON.stringify(report.byKind)}`);
  console.log(`  X-Cache: ${JSON.stringify(report.xCache)} (hit ratio ${(report.hitRatio * 100).toFixed(1)} %)`);
  console.log(`  latency first window p50 ${report.latencyMs.firstWindow.p50.toFixed(1)} / p99 ${report.latencyMs.firstWindow.p99.toFixed(1)} ms; last window p50 ${report.latencyMs.lastWindow.p50.toFixed(1)} / p99 ${report.latencyMs.lastWindow.p99.toFixed(1)} ms`);
  console.log(`  RSS start ${mib(rssStart)}, max ${mib(rssMax)}, end ${mib(rssEnd)}; last-half slope ${slopeMiBPerMin.toFixed(3)} MiB/min (limit ${maxSlope}); ${samples.length} samples`);
  console.log(`  secondary: RSS floor slope ${floorSlope.toFixed(3)} MiB/min, heap used ${mib(report.rss.heapStartBytes)} → ${mib(report.rss.heapEndBytes)}, heap slope ${heapSlope.toFixed(3)} MiB/min (last half)`);
  console.log(`  SIGTERM exit ${String(exit.code)}`);
  for (const e of examples.slice(0, 15)) console.log(`  ✗ ${e.slice(0, 300)}`);
  if (reportFile) (await import('node:fs')).writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  const failures: string[] = [];
  if (crashed) failures.push(crashed);
  if (errorRate > maxErrorRate) failures.push(`error rate ${(errorRate * 100).toFixed(3)} % > ${maxErrorRate * 100} %`);
  if (slopeMiBPerMin >= maxSlope) failures.push(`RSS not flat: ${slopeMiBPerMin.toFixed(3)} MiB/min over the last half`);
  if (exit.code !== 0) failures.push(`SIGTERM exit code ${String(exit.code)}`);
  for (const f of failures) console.log(`FAIL: ${f}`);
  if (failures.length === 0) console.log('PASS');
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(`soak: ${(err as Error).stack ?? String(err)}`);
    killAllChildren();
    process.exit(2);
  },
);
