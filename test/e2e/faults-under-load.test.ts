// Faults under load: 16 clients in a loop (pinned and latest Aptos reads, JSON-RPC calls and
// batches, mostly distinct so that they reach the nodes) through a proxy in front of a primary and
// two replicas per group, while one node misbehaves. Every answer is checked against the
// deterministic mock ledgers, so a wrong or truncated answer counts as a failure, not only an error
// status. The last case runs the proxy as its own process and sends it SIGTERM under load.
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import t, { type Test } from 'tap';
import { aptosCoinValue, startAptosNode, APTOS_ACCOUNTS, type AptosNodeHandle } from '../support/aptos-node.js';
import { evmBalance, startJsonRpcNode, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import { request } from '../support/http-client.js';
import type { Fault } from '../support/node-faults.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';
import { startRedis } from '../support/redis-server.js';
import { startProxyProcess } from '../../bench/reliability/common.js';

const ALICE = APTOS_ACCOUNTS.alice;
const COIN_STORE = '0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>';
const APTOS_VERSION = 100_000;
const EVM_HEAD = 5_000;
const CLIENTS = 16;
const LOAD_MS = 2_500;
/** A sanity floor only: on a busy 2-core machine the in-process load is slow. */
const MIN_LOAD = 30;
const EVM_ADDRS = Array.from({ length: 64 }, (_, i) => `0x${(0xfa000 + i).toString(16).padStart(40, '0')}`);

interface Cluster {
  aptos: [AptosNodeHandle, AptosNodeHandle, AptosNodeHandle];
  evm: [JsonRpcNodeHandle, JsonRpcNodeHandle, JsonRpcNodeHandle];
  proxy: TestProxy;
}

interface ClusterOptions {
  redisUrl?: string;
  /** Extra keys for both upstream groups (YAML flow mapping members). */
  upstreamExtra?: string;
  cache?: boolean;
  /** Runs after the nodes start and before the proxy first polls them. */
  beforeProxy?: (nodes: Pick<Cluster, 'aptos' | 'evm'>) => void;
}

async function cluster(t: Test, opts: ClusterOptions = {}): Promise<Cluster> {
  const aptos = (await Promise.all([0, 1, 2].map(() => startAptosNode({ version: APTOS_VERSION })))) as Cluster['aptos'];
  const evm = (await Promise.all([0, 1, 2].map(() => startJsonRpcNode({ flavor: 'evm', head: EVM_HEAD })))) as Cluster['evm'];
  t.teardown(() => Promise.all([...aptos, ...evm].map((n) => n.close())));
  opts.beforeProxy?.({ aptos, evm });
  const common = `timeouts: { connectMs: 300, headersMs: 400, bodyMs: 400 }, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 }, health: { ejectAfterFailures: 2, probeIntervalMs: 200, openMs: 1000 }, head: { pollIntervalMs: 200 }${opts.upstreamExtra ? `, ${opts.upstreamExtra}` : ''}`;
  const proxy = await startTestProxy(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0, requestTimeoutMs: 8000, shutdown: { drainDelayMs: 0, deadlineMs: 2000 } }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${aptos[0].url}, replicas: [${aptos[1].url}, ${aptos[2].url}], ${common} }
  evm: { dialect: evm-jsonrpc, primary: ${evm[0].url}, replicas: [${evm[1].url}, ${evm[2].url}], ${common} }
routes:
  - { name: aptos, match: { pathPrefix: /v1 }, upstream: aptos, cache: { enabled: ${opts.cache !== false} } }
  - { name: evm, match: { pathPrefix: /evm }, upstream: evm, stripPrefix: true, cache: { enabled: ${opts.cache !== false} } }
cache:
  memory: { maxBytes: 33554432 }${opts.redisUrl ? `\n  redis: { url: "${opts.redisUrl}", prefix: "ful-${Date.now()}:", commandTimeoutMs: 100 }` : ''}
`);
  t.teardown(() => proxy.close());
  return { aptos, evm, proxy };
}

// ---------------------------------------------------------------------------------------------
// The load and its checks.

interface Call {
  kind: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** undefined when the answer is right, else what is wrong with it. */
  check(status: number, text: string): string | undefined;
}

interface LoadResult {
  total: number;
  failures: string[];
  /** A 200 whose body is not valid JSON, or truncated: must never happen. */
  badOk: string[];
  byKind: Map<string, number>;
}

let seq = 0;

function coinCheck(version: number | undefined) {
  return (status: number, text: string): string | undefined => {
    if (status !== 200) return `${status} ${text.slice(0, 100)}`;
    const value = (JSON.parse(text) as { data?: { coin?: { value?: string } } }).data?.coin?.value;
    if (value === undefined) return `no coin value in ${text.slice(0, 100)}`;
    if (version !== undefined) return value === aptosCoinValue(ALICE, version).toString() ? undefined : `value ${value} is not the balance at ${version}`;
    const v = Number((BigInt(value) - aptosCoinValue(ALICE, 0)) / 7n);
    return aptosCoinValue(ALICE, v).toString() === value ? undefined : `latest value ${value} is no version's balance`;
  };
}

function rpcCheck(expect: Array<(result: unknown) => string | undefined>, batch: boolean) {
  return (status: number, text: string): string | undefined => {
    const doc = JSON.parse(text) as unknown;
    const list = (batch ? doc : [doc]) as Array<{ jsonrpc?: string; id?: unknown; result?: unknown; error?: { code?: number; message?: string } }>;
    if (!Array.isArray(list) || list.length !== expect.length) return `${status}: expected ${expect.length} answers, got ${text.slice(0, 100)}`;
    for (const [i, el] of list.entries()) {
      if (el.jsonrpc !== '2.0' || el.id !== i) return `${status}: answer ${i} envelope ${text.slice(0, 100)}`;
      if (el.error) return `${status}: answer ${i} error ${el.error.code} ${el.error.message}`;
      const problem = expect[i]?.(el.result);
      if (problem) return `answer ${i}: ${problem}`;
    }
    return status === 200 ? undefined : `status ${status}`;
  };
}

function pinnedBalance(i: number): { text: string; check: (r: unknown) => string | undefined } {
  const n = seq++;
  const addr = EVM_ADDRS[n % EVM_ADDRS.length] as string;
  const block = 1 + ((n * 7919) % (EVM_HEAD - 10));
  const want = `0x${evmBalance(addr, block).toString(16)}`;
  return {
    text: `{"jsonrpc":"2.0","id":${i},"method":"eth_getBalance","params":["${addr}","0x${block.toString(16)}"]}`,
    check: (r) => (r === want ? undefined : `balance ${String(r)} ≠ ${want} at ${block}`),
  };
}

/** The default mix: pinned (distinct) and latest Aptos reads, pinned and latest JSON-RPC calls, batches. */
function defaultMix(): Call {
  const r = Math.random();
  const n = seq++;
  if (r < 0.35) {
    const v = 1 + ((n * 104_729) % (APTOS_VERSION - 10));
    return { kind: 'aptos-pinned', method: 'GET', path: `/v1/accounts/${ALICE}/resource/${COIN_STORE}?ledger_version=${v}`, check: coinCheck(v) };
  }
  if (r < 0.45) return { kind: 'aptos-latest', method: 'GET', path: `/v1/accounts/${ALICE}/resource/${COIN_STORE}?n=${n}`, check: coinCheck(undefined) };
  if (r < 0.75) {
    const c = pinnedBalance(0);
    return { kind: 'evm-pinned', method: 'POST', path: '/evm', body: c.text, check: rpcCheck([c.check], false) };
  }
  if (r < 0.85) {
    const addr = EVM_ADDRS[n % EVM_ADDRS.length] as string;
    return {
      kind: 'evm-latest',
      method: 'POST',
      path: '/evm',
      body: `{"jsonrpc":"2.0","id":0,"method":"eth_getBalance","params":["${addr}","latest"]}`,
      check: rpcCheck([(res) => (typeof res === 'string' && (BigInt(res) - evmBalance(addr, 0)) % 10n ** 12n === 0n ? undefined : `latest ${String(res)}`)], false),
    };
  }
  const calls = [0, 1, 2].map((i) => pinnedBalance(i));
  return { kind: 'evm-batch', method: 'POST', path: '/evm', body: `[${calls.map((c) => c.text).join(',')}]`, check: rpcCheck(calls.map((c) => c.check), true) };
}

async function runLoad(baseUrl: string, durationMs: number, mix: () => Call = defaultMix, events: Array<[number, () => unknown]> = []): Promise<LoadResult> {
  const result: LoadResult = { total: 0, failures: [], badOk: [], byKind: new Map() };
  const end = Date.now() + durationMs;
  const started = Date.now();
  const timeline = (async () => {
    for (const [at, fn] of events) {
      const wait = started + at - Date.now();
      if (wait > 0) await sleep(wait);
      await fn();
    }
  })();
  const client = async (): Promise<void> => {
    while (Date.now() < end) {
      const call = mix();
      result.total++;
      result.byKind.set(call.kind, (result.byKind.get(call.kind) ?? 0) + 1);
      try {
        const res = await request(`${baseUrl}${call.path}`, {
          method: call.method,
          ...(call.body !== undefined ? { body: call.body, headers: { 'content-type': 'application/json' } } : {}),
          timeoutMs: 6000,
        });
        const text = res.text();
        let problem: string | undefined;
        try {
          problem = call.check(res.status, text);
        } catch (err) {
          problem = `unparsable ${res.status} answer (${(err as Error).message}): ${text.slice(0, 80)}`;
          if (res.status === 200) result.badOk.push(`${call.kind}: ${problem}`);
        }
        if (problem) result.failures.push(`${call.kind} ${call.path}: ${problem}`);
      } catch (err) {
        result.failures.push(`${call.kind} ${call.path}: transport ${(err as Error).message}`);
      }
    }
  };
  await Promise.all([...Array.from({ length: CLIENTS }, () => client()), timeline]);
  return result;
}

function summary(r: LoadResult): string {
  const rate = r.total === 0 ? 0 : (r.failures.length / r.total) * 100;
  return `${r.failures.length}/${r.total} failed (${rate.toFixed(3)} %)${r.failures.length ? `; first: ${r.failures.slice(0, 3).join(' | ')}` : ''}`;
}

const rate = (r: LoadResult) => (r.total === 0 ? 1 : r.failures.length / r.total);

function setFault(nodes: Array<{ setFault(f: Fault): void }>, f: Fault): void {
  for (const n of nodes) n.setFault(f);
}

// ---------------------------------------------------------------------------------------------

t.test('(a) a replica killed mid-run: client error rate <= 0.1 %', async (t) => {
  const c = await cluster(t);
  const r = await runLoad(c.proxy.url, LOAD_MS, defaultMix, [[LOAD_MS / 3, () => Promise.all([c.aptos[1].kill(), c.evm[1].kill()])]]);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.ok(rate(r) <= 0.001, `error rate ${summary(r)}`);
  t.same(r.badOk, [], 'no invalid 200');
});

t.test('(b) a replica that hangs: small timeouts and retry keep clients succeeding', async (t) => {
  const c = await cluster(t);
  const r = await runLoad(c.proxy.url, LOAD_MS, defaultMix, [[LOAD_MS / 4, () => setFault([c.aptos[2], c.evm[2]], { kind: 'hang' })]]);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.ok(rate(r) <= 0.001, `error rate ${summary(r)}`);
  t.same(r.badOk, [], 'no invalid 200');
});

t.test('(c) a replica that closes mid-body: retried, never a truncated 200', async (t) => {
  const c = await cluster(t);
  const r = await runLoad(c.proxy.url, LOAD_MS, defaultMix, [[LOAD_MS / 4, () => setFault([c.aptos[1], c.evm[1]], { kind: 'close-mid-body' })]]);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.same(r.badOk, [], 'no truncated or invalid 200 reached a client');
  t.ok(rate(r) <= 0.001, `error rate ${summary(r)}`);
});

/** JSON-RPC calls only, each answer checked to be a JSON-RPC envelope before its content. */
function rpcOnlyMix(): Call {
  const n = seq++;
  const calls = n % 3 === 0 ? [0, 1].map((i) => pinnedBalance(i)) : [pinnedBalance(0)];
  const batch = calls.length > 1;
  return {
    kind: batch ? 'evm-batch' : 'evm-pinned',
    method: 'POST',
    path: '/evm',
    body: batch ? `[${calls.map((x) => x.text).join(',')}]` : (calls[0]?.text ?? ''),
    check: (status, text) => {
      const doc = JSON.parse(text) as unknown; // throws → counted as an invalid answer
      const list = (Array.isArray(doc) ? doc : [doc]) as Array<{ jsonrpc?: string; id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } }>;
      for (const el of list) {
        if (el.jsonrpc !== '2.0' || !('id' in el)) return `not a JSON-RPC envelope (${status}): ${text.slice(0, 80)}`;
        if (el.error && (typeof el.error.code !== 'number' || typeof el.error.message !== 'string')) return `bad error object: ${text.slice(0, 80)}`;
      }
      return rpcCheck(calls.map((x) => x.check), batch)(status, text);
    },
  };
}

const notEnvelope = (f: string) => /unparsable|not a JSON-RPC envelope|bad error object/.test(f);

t.test('(d) a JSON-RPC replica that answers garbage: never a garbage 200, always a JSON-RPC envelope', async (t) => {
  const c = await cluster(t);
  const r = await runLoad(c.proxy.url, LOAD_MS, rpcOnlyMix, [[LOAD_MS / 4, () => setFault([c.evm[1]], { kind: 'garbage' })]]);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.same(r.badOk, [], 'no garbage 200 reached a JSON-RPC client');
  t.same(r.failures.filter(notEnvelope).slice(0, 5), [], 'every JSON-RPC answer was an envelope (a result or a JSON-RPC error)');
});

t.test('(d2) a JSON-RPC replica that keeps answering garbage costs <= 0.1 % of calls (retried, or out of rotation)', async (t) => {
  const c = await cluster(t);
  const r = await runLoad(c.proxy.url, LOAD_MS, rpcOnlyMix, [[LOAD_MS / 4, () => setFault([c.evm[1]], { kind: 'garbage' })]]);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.ok(rate(r) <= 0.001, `calls answered with an error: ${summary(r)}`);
});

t.test('(d3) an Aptos replica that answers garbage: the garbage is never cached', async (t) => {
  const c = await cluster(t);
  // A garbage 200 may be passed on (it is the node's answer), but once the node is healthy again
  // the same pinned reads must be answered right, not from a poisoned cache entry.
  const versions: number[] = [];
  const aptosPinned = (): Call => {
    const v = 1 + ((seq++ * 104_729) % (APTOS_VERSION - 10));
    versions.push(v);
    return { kind: 'aptos-pinned', method: 'GET', path: `/v1/accounts/${ALICE}/resource/${COIN_STORE}?ledger_version=${v}`, check: coinCheck(v) };
  };
  setFault([c.aptos[1]], { kind: 'garbage' });
  const during = await runLoad(c.proxy.url, 1000, aptosPinned);
  setFault([c.aptos[1]], { kind: 'none' });
  const wrongAfter: string[] = [];
  for (const v of versions.slice(0, 300)) {
    const res = await request(`${c.proxy.url}/v1/accounts/${ALICE}/resource/${COIN_STORE}?ledger_version=${v}`);
    let problem: string | undefined;
    try {
      problem = coinCheck(v)(res.status, res.text());
    } catch {
      problem = `garbage served (x-cache ${String(res.header('x-cache'))}): ${JSON.stringify(res.text().slice(0, 24))}`;
    }
    if (problem) wrongAfter.push(`v=${v}: ${problem}`);
  }
  t.same(wrongAfter.slice(0, 3), [], `no garbage answer was cached (${wrongAfter.length} of ${Math.min(300, versions.length)} pinned reads still wrong after the fault; ${during.failures.length} of ${during.total} bad during it)`);
});

/** Advances every node of both groups one block every `ms` (the chain moves while we read). */
function advancing(c: Cluster, ms: number): () => void {
  const timer = setInterval(() => {
    for (const n of c.aptos) n.advance(1);
    for (const n of c.evm) n.advance(1);
  }, ms);
  return () => clearInterval(timer);
}

/** Pinned reads near the true head (of the primary): above a lagging replica's head. */
function nearHeadMix(c: Cluster, window: number): () => Call {
  return () => {
    const n = seq++;
    if (n % 2 === 0) {
      const v = Math.max(1, c.aptos[0].ledger.version - (n % window));
      return { kind: 'aptos-near-head', method: 'GET', path: `/v1/accounts/${ALICE}/resource/${COIN_STORE}?ledger_version=${v}`, check: coinCheck(v) };
    }
    const b = Math.max(1, c.evm[0].head - (n % window));
    const hash = c.evm[0].blockHashAt(b);
    return {
      kind: 'evm-block-near-head',
      method: 'POST',
      path: '/evm',
      body: `{"jsonrpc":"2.0","id":0,"method":"eth_getBlockByNumber","params":["0x${b.toString(16)}",false]}`,
      check: rpcCheck([(res) => (res !== null && typeof res === 'object' && (res as { hash?: string }).hash === hash ? undefined : `block ${b}: ${JSON.stringify(res)?.slice(0, 60)}`)], false),
    };
  };
}

t.test('(e1) a replica lagging from the start: reads pinned above its head get the primary\'s answer', async (t) => {
  const c = await cluster(t, { cache: false, beforeProxy: (n) => setFault([n.aptos[2], n.evm[2]], { kind: 'none', lagBy: 30 }) });
  const stop = advancing(c, 40);
  t.teardown(stop);
  await sleep(300);
  const r = await runLoad(c.proxy.url, LOAD_MS, nearHeadMix(c, 20));
  stop();
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.same(r.failures.slice(0, 5), [], `never the lagging replica's 404/null: ${summary(r)}`);
});

t.test('(e2) a replica that falls behind mid-run: reads pinned above its head get the primary\'s answer', async (t) => {
  const c = await cluster(t, { cache: false });
  const stop = advancing(c, 40);
  t.teardown(stop);
  await sleep(300);
  const r = await runLoad(c.proxy.url, LOAD_MS, nearHeadMix(c, 20), [[LOAD_MS / 4, () => setFault([c.aptos[2], c.evm[2]], { kind: 'none', lagBy: 30 })]]);
  stop();
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.same(r.failures.slice(0, 5), [], `never the lagging replica's 404/null: ${summary(r)}`);
});

t.test('(f) a pruned Aptos replica: reads pinned below its pruning point are not answered 410', async (t) => {
  const c = await cluster(t, { cache: false });
  const pruneAt = 50_000;
  setFault([c.aptos[1]], { kind: 'none', prunedBelow: pruneAt });
  const below = (): Call => {
    const v = 1 + ((seq++ * 104_729) % (pruneAt - 10));
    return { kind: 'aptos-below-pruning', method: 'GET', path: `/v1/accounts/${ALICE}/resource/${COIN_STORE}?ledger_version=${v}`, check: coinCheck(v) };
  };
  const r = await runLoad(c.proxy.url, LOAD_MS, below);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.same(r.failures.slice(0, 5), [], `never the pruned replica's 410: ${summary(r)}`);
});

t.test('(f-evm) a pruned EVM replica: state reads below its pruning point are not answered "missing trie node"', async (t) => {
  const c = await cluster(t, { cache: false });
  setFault([c.evm[1]], { kind: 'none', prunedBelow: EVM_HEAD - 100 });
  const old = (): Call => {
    const x = pinnedBalance(0);
    return { kind: 'evm-below-pruning', method: 'POST', path: '/evm', body: x.text, check: rpcCheck([x.check], false) };
  };
  const r = await runLoad(c.proxy.url, LOAD_MS, old);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.same(r.failures.slice(0, 5), [], `never the pruned replica's -32000: ${summary(r)}`);
});

t.test('(g) Redis killed and restarted under load: no failed request', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const c = await cluster(t, { redisUrl: redis.url });
  const r = await runLoad(c.proxy.url, 3000, defaultMix, [
    [800, () => redis.kill()],
    [1800, () => redis.start()],
  ]);
  t.ok(r.total > MIN_LOAD, `enough load: ${r.total} requests`);
  t.same(r.failures.slice(0, 5), [], `every request succeeded: ${summary(r)}`);
});

t.test('(h) SIGTERM under load against a proxy process: nothing in flight is dropped, exit 0', async (t) => {
  const node = await startAptosNode({ version: APTOS_VERSION, latencyMs: 150 });
  t.teardown(() => node.close());
  // One read (Bob's coins) the node holds HOLD_MS on top of its latency, sent just before SIGTERM:
  // the process cannot exit before it is answered, so a connection refused before then was refused
  // by a proxy that is still draining (its listener closed), not by a process that is gone. (The
  // group's fast-call headers timeout and the drain deadline are raised above HOLD_MS for it.)
  const HOLD_MS = 3000;
  node.setFault({ kind: 'slow', ms: HOLD_MS, match: (info) => info.path.includes(APTOS_ACCOUNTS.bob) });
  const drainDelayMs = 300;
  const proxy = await startProxyProcess({
    serverExtra: [`shutdown: { drainDelayMs: ${drainDelayMs}, deadlineMs: 8000 }`],
    body: `log: { level: warn, requests: silent }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 1000 }, timeouts: { byClass: { fast: { headersMs: 8000 } } } }
routes:
  - { match: { pathPrefix: /v1 }, upstream: aptos }
`,
  });
  t.teardown(() => proxy.stop('SIGKILL'));
  const port = proxy.trafficPort;
  interface Outcome { startedAt: number; status?: number; error?: string; ok: boolean }
  const outcomes: Outcome[] = [];
  // Every request on a new connection: "started" means its connection was made and the request sent.
  const one = async (v: number): Promise<Outcome> => {
    const startedAt = Date.now();
    const r = await oneRead(port, `/v1/accounts/${ALICE}/resource/${COIN_STORE}?ledger_version=${v}`);
    let ok = false;
    try {
      ok = r.status === 200 && coinCheck(v)(200, r.text) === undefined;
    } catch {
      ok = false;
    }
    return { startedAt, ok, ...(r.status !== undefined ? { status: r.status } : {}), ...(r.error !== undefined ? { error: r.error } : {}) };
  };
  let sigAt = 0;
  let stopAt = Number.POSITIVE_INFINITY;
  const clients = Array.from({ length: CLIENTS }, async (_, k) => {
    let i = 0;
    while (Date.now() < stopAt) {
      const o = await one(1 + ((k * 1000 + i++) * 7919) % (APTOS_VERSION - 10));
      outcomes.push(o);
      if (o.error === 'ECONNREFUSED') await sleep(20);
    }
  });
  await sleep(1000);
  const heldStartedAt = Date.now();
  const held = oneRead(port, `/v1/accounts/${APTOS_ACCOUNTS.bob}/resource/${COIN_STORE}?ledger_version=777`);
  await sleep(20);
  sigAt = Date.now();
  proxy.signal('SIGTERM');
  // Clients go on until the held read is answered: by then the listener must have closed.
  void held.then(() => void (stopAt = Date.now()));
  const exit = await Promise.race([proxy.exited, sleep(15_000).then(() => undefined)]);
  await Promise.all(clients);
  t.ok(exit, 'the process exited by itself');
  t.equal(exit?.code, 0, 'exit code 0');
  const heldRead = await held;
  const heldValue = heldRead.status === 200 ? (JSON.parse(heldRead.text) as { data?: { coin?: { value?: string } } }).data?.coin?.value : undefined;
  t.equal(heldValue, aptosCoinValue(APTOS_ACCOUNTS.bob, 777).toString(), `the held read, in flight across the drain, was answered right (${heldRead.status ?? heldRead.error})`);
  const before = outcomes.filter((o) => o.startedAt < sigAt);
  const inDelay = outcomes.filter((o) => o.startedAt >= sigAt && o.startedAt < sigAt + drainDelayMs - 50);
  t.ok(before.length >= CLIENTS, `requests before SIGTERM: ${before.length}`);
  const dropped = before.filter((o) => !o.ok);
  t.same(dropped.slice(0, 5), [], `every request started before SIGTERM completed with 200 (${dropped.length} of ${before.length} did not)`);
  const refusedEarly = inDelay.filter((o) => !o.ok);
  t.same(refusedEarly.slice(0, 5), [], `requests during the drain delay are still served (${inDelay.length} started then)`);
  // When the listener closed is read from the clients (the first refused connection), not assumed
  // from the clock: the proxy is its own process and on a loaded machine takes its SIGTERM and
  // wakes from the drain delay late, by more than any fixed margin after sigAt + drainDelayMs.
  const refused = outcomes.filter((o) => o.error === 'ECONNREFUSED');
  const closedBy = Math.min(...refused.map((o) => o.startedAt));
  t.ok(refused.length > 0, `clients kept trying after the drain delay and were refused (${refused.length})`);
  t.ok(closedBy < heldStartedAt + HOLD_MS, `the listener closed while a request was still in flight (first refusal ${closedBy - sigAt} ms after SIGTERM; the held read is answered ${heldStartedAt + HOLD_MS - sigAt} ms after it at the earliest)`);
  const accepted = outcomes.filter((o) => o.startedAt > closedBy && o.error !== 'ECONNREFUSED' && o.error !== 'ECONNRESET');
  t.same(accepted.slice(0, 5), [], 'new connections after the listener closed are refused');
});

/** One GET on a new connection, its body as text. */
function oneRead(port: number, path: string): Promise<{ status?: number; text: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, timeout: 12_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ text: '', error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ text: '', error: err.code ?? err.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
