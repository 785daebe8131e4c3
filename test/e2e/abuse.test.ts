// Abuse: a short fuzz (3,000 requests from the generator of the long run, bench/reliability/fuzz.ts)
// against the proxy as its own process, and a slowloris crowd. Every answer must be a well-formed
// error in the route's dialect or a legitimate answer — never a 500 made by the proxy, a stack
// trace, a hang, a crash or a smuggled request reaching a node — and the proxy keeps answering
// normal requests with bounded memory.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { startAptosNode } from '../support/aptos-node.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import {
  canary,
  FUZZ_TARGET,
  fuzzProxyConfig,
  makeFuzzCase,
  pool,
  rawExchange,
  buildRequest,
  runCase,
  startProxyProcess,
} from '../../bench/reliability/common.js';

const REQUESTS = Number(process.env['ABUSE_REQUESTS'] ?? 3000);
const SEED = Number(process.env['ABUSE_SEED'] ?? 7);
const MiB = 1024 * 1024;
/** The long run's target, with a shorter request timeout so the half-sent cases cost less CI time. */
const TARGET = { ...FUZZ_TARGET, requestTimeoutMs: 1500 };

async function fuzzSetup(t: Test) {
  const aptos = await startAptosNode({ version: FUZZ_TARGET.aptosVersion });
  const evm = await startJsonRpcNode({ flavor: 'evm', head: FUZZ_TARGET.evmHead });
  const neo = await startJsonRpcNode({ flavor: 'neo', head: FUZZ_TARGET.neoHead });
  t.teardown(() => Promise.all([aptos.close(), evm.close(), neo.close()]));
  const proxy = await startProxyProcess(fuzzProxyConfig({ aptos: aptos.url, evm: evm.url, neo: neo.url }, TARGET));
  t.teardown(() => proxy.stop('SIGKILL'));
  return { aptos, evm, neo, proxy };
}

t.test(`fuzz: ${REQUESTS} abusive requests get well-formed answers, the proxy survives with bounded memory`, async (t) => {
  const { aptos, evm, neo, proxy } = await fuzzSetup(t);
  // Warm up (JIT, pools, the cache's first entries) before the memory baseline.
  await pool(150, 16, async (i) => {
    await runCase(proxy.trafficPort, makeFuzzCase(SEED + 1, i, TARGET));
  });
  t.equal(await canary(proxy.trafficPort), undefined, 'normal requests work before the fuzz');
  const rssBefore = proxy.rss() ?? 0;

  const problems = new Map<string, string[]>();
  const statuses = new Map<string, number>();
  let smuggled = 0;
  const scan = () => {
    smuggled += aptos.requests.filter((r) => r.path.includes('smuggled-')).length;
    for (const n of [evm, neo]) smuggled += n.httpRequests.filter((h) => /GET \/v1\/smuggled-\d+ HTTP/.test(h.body.toString('latin1')) && !h.body.includes('"params"')).length;
    for (const n of [aptos, evm, neo]) n.resetCalls();
  };
  await pool(
    REQUESTS,
    16,
    async (i) => {
      const c = makeFuzzCase(SEED, i, TARGET);
      const { outcome } = await runCase(proxy.trafficPort, c);
      statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
      for (const p of outcome.violations) {
        // Group by what went wrong (the text before the first colon), keep a few examples each.
        const kind = `${c.category.split('/')[0]}: ${p.split(':')[0]}`;
        const list = problems.get(kind) ?? [];
        if (list.length < 3) list.push(`#${i} ${c.category} → ${outcome.status}: ${p.slice(0, 200)}`);
        problems.set(kind, list);
      }
      if (i % 500 === 499) scan();
    },
    () => !proxy.isRunning(),
  );
  scan();
  t.ok(proxy.isRunning(), `the proxy is still running${proxy.isRunning() ? '' : `:\n${proxy.logTail()}`}`);
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => b[1] - a[1])))}`);
  for (const [kind, examples] of problems) t.same(examples, [], `malformed or missing answers — ${kind}`);
  t.equal(problems.size, 0, 'every answer was a well-formed error in the dialect\'s shape or a legitimate answer');
  t.equal(smuggled, 0, 'no smuggled request reached a node');
  t.equal(await canary(proxy.trafficPort), undefined, 'a normal request is answered afterwards');
  const rssAfter = proxy.rss() ?? 0;
  t.ok(rssAfter - rssBefore < 64 * MiB, `RSS ${(rssBefore / MiB).toFixed(0)} → ${(rssAfter / MiB).toFixed(0)} MiB (bound: +64 MiB)`);
  const exit = await proxy.stop('SIGTERM', 5000);
  t.equal(exit.code, 0, 'exits 0 on SIGTERM after the abuse');
});

t.test('the L1 byte bound holds in real memory: cached entries do not pin more than they are charged', async (t) => {
  const aptos = await startAptosNode({ version: 1_000_000 });
  t.teardown(() => aptos.close());
  const proxy = await startProxyProcess({
    body: `log: { level: warn, requests: silent }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${aptos.url}, head: { pollIntervalMs: 1000 } }
routes:
  - { match: { pathPrefix: /v1 }, upstream: aptos }
cache:
  memory: { maxBytes: 67108864 }
`,
  });
  t.teardown(() => proxy.stop('SIGKILL'));
  const metric = async (name: string): Promise<number> => {
    const r = await rawExchange(proxy.adminPort, buildRequest('GET', '/metrics', []), { timeoutMs: 3000 });
    return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(r.responses[0]?.body.toString('utf8') ?? '')?.[1] ?? NaN);
  };
  const external0 = await metric('ledgerproxy_nodejs_external_memory_bytes');
  const READS = 3000;
  // Distinct pinned resource reads: every answer (a few hundred bytes, gzip-compressed) is stored.
  await pool(READS, 8, async (i) => {
    await rawExchange(proxy.trafficPort, buildRequest('GET', `/v1/accounts/0x${'a11ce'.padStart(64, '0')}/resource/0x1::coin::CoinStore%3C0x1::aptos_coin::AptosCoin%3E?ledger_version=${1 + i}`, []), { timeoutMs: 5000 });
  });
  await sleep(1000);
  const charged = await metric('ledgerproxy_cache_bytes\\{tier="memory"\\}');
  const entries = await metric('ledgerproxy_cache_entries\\{tier="memory"\\}');
  const grown = (await metric('ledgerproxy_nodejs_external_memory_bytes')) - external0;
  t.ok(entries >= READS * 0.9, `${entries} entries stored`);
  t.ok(grown <= 2 * charged + 8 * MiB, `off-heap memory grew ${(grown / MiB).toFixed(1)} MiB for ${entries} entries charged ${(charged / MiB).toFixed(1)} MiB (${(grown / Math.max(1, entries)).toFixed(0)} B per entry; bound: 2 × charged + 8 MiB)`);
});

t.test('slowloris: sockets sending headers a byte at a time do not stop normal requests, and are cut', async (t) => {
  const aptos = await startAptosNode({ version: FUZZ_TARGET.aptosVersion });
  t.teardown(() => aptos.close());
  const requestTimeoutMs = 2000;
  const proxy = await startProxyProcess({
    serverExtra: [`requestTimeoutMs: ${requestTimeoutMs}`, 'shutdown: { drainDelayMs: 0, deadlineMs: 1000 }'],
    body: `log: { level: warn, requests: silent }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${aptos.url}, head: { pollIntervalMs: 1000 } }
routes:
  - { match: { pathPrefix: /v1 }, upstream: aptos }
`,
  });
  t.teardown(() => proxy.stop('SIGKILL'));
  const SOCKETS = 200;
  const header = Buffer.from(`GET /v1 HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ${'s'.repeat(4000)}\r\n\r\n`);
  const started = Date.now();
  const slow = Array.from({ length: SOCKETS }, () => {
    const s = { sock: net.connect(proxy.trafficPort, '127.0.0.1'), closedAt: 0, sent: 0 };
    s.sock.on('error', () => undefined);
    s.sock.on('close', () => (s.closedAt = Date.now()));
    return s;
  });
  // One byte per socket every 100 ms, never reaching the end of the header block.
  const drip = setInterval(() => {
    for (const s of slow) {
      if (s.closedAt === 0 && s.sent < header.length - 4) s.sock.write(header.subarray(s.sent, ++s.sent));
    }
  }, 100);
  t.teardown(() => {
    clearInterval(drip);
    for (const s of slow) s.sock.destroy();
  });
  await sleep(300);
  const latencies: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    const r = await rawExchange(proxy.trafficPort, buildRequest('GET', `/v1/accounts/0x1/resource/0x1::coin::CoinStore%3C0x1::aptos_coin::AptosCoin%3E?ledger_version=${100 + i}`, []), { timeoutMs: 3000 });
    latencies.push(performance.now() - t0);
    const status = r.responses[0]?.status;
    if (status !== 200 && status !== 404) failures.push(`request ${i}: ${status ?? (r.timedOut ? 'timeout' : 'no answer')}`);
    await sleep(50);
  }
  latencies.sort((a, b) => a - b);
  t.same(failures, [], 'normal requests are served while the slow sockets are open');
  t.ok((latencies[Math.floor(latencies.length * 0.95)] ?? 0) < 1000, `p95 latency meanwhile ${(latencies[Math.floor(latencies.length * 0.95)] ?? 0).toFixed(0)} ms (< 1000)`);
  t.ok(slow.filter((s) => s.closedAt === 0 || s.closedAt - started > requestTimeoutMs - 500).length === SOCKETS, 'the slow sockets were not cut before the headers timeout');
  // The server must cut them once headersTimeout (= requestTimeoutMs) has passed: give it 5 s more.
  const cutBy = started + requestTimeoutMs + 5000;
  while (Date.now() < cutBy && slow.some((s) => s.closedAt === 0)) await sleep(100);
  const open = slow.filter((s) => s.closedAt === 0).length;
  t.equal(open, 0, `every slowloris socket was closed by the server within requestTimeoutMs + 5 s (${open} of ${SOCKETS} still open ${((Date.now() - started) / 1000).toFixed(1)} s after they connected)`);
  t.ok(proxy.isRunning(), 'the proxy is still running');
  t.equal(await rawExchange(proxy.trafficPort, buildRequest('GET', '/v1', []), { timeoutMs: 3000 }).then((r) => r.responses[0]?.status), 200, 'and answers afterwards');
});
