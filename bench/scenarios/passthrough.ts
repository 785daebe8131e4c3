// (p) Pass-through at the runtime's floor (issue 16): what the proxy does with requests it does
// not parse, against the node directly and against bench/forwarder.ts (node:http in, one undici
// Pool out, nothing else — the floor any Node proxy stands on), measured back to back in one run:
//   1. transaction submits (POST /v1/transactions, answered 202 at once by the mock), 32 connections;
//   2. a 1 MiB streamed answer (GET /v1/stream/bytes), proxy vs forwarder;
//   3. a 100 MiB NDJSON answer to a slow reader: the proxy's RSS must stay flat (backpressure);
//   4. WebSocket relay: echo round trips per second through the proxy vs direct.
import { request as httpGet } from 'node:http';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { aggregate, fmtRatio, goal, loadTable, measure, mib, type Aggregate, type Ctx, type Goal, type Section } from '../lib/bench.js';
import { freePort, procMemory, sleep, spawnChild, waitHttpOk, type Child } from '../lib/proc.js';
import { mainThreadProfile, startMock, startProxy } from '../lib/stack.js';
import type { Workload } from '../lib/workloads.js';

/** Issue 16 measured with 32 connections. */
const CONNECTIONS = 32;
/** A signed Aptos transaction is a few hundred bytes of JSON. */
const SUBMIT_BODY = JSON.stringify({
  sender: `0x${'a1'.repeat(32)}`, sequence_number: '42', max_gas_amount: '2000', gas_unit_price: '100', expiration_timestamp_secs: '1999999999',
  payload: { type: 'entry_function_payload', function: '0x1::aptos_account::transfer', type_arguments: [], arguments: [`0x${'b2'.repeat(32)}`, '1000'] },
  signature: { type: 'ed25519_signature', public_key: `0x${'c3'.repeat(32)}`, signature: `0x${'d4'.repeat(64)}` },
});
const SUBMIT: Workload = { kind: 'fixed', method: 'POST', path: '/v1/transactions', headers: { 'content-type': 'application/json' }, body: SUBMIT_BODY };
const STREAM_1M: Workload = { kind: 'fixed', method: 'GET', path: '/v1/stream/bytes?n=1048576', headers: {} };
const NDJSON_MIB = 100;

interface Target { name: string; origin: string; pid: number; runs: Aggregate['runs'] }

export async function scenarioPassthrough(ctx: Ctx): Promise<Section> {
  const profiling = ctx.opts.profile === 'p';
  const children: Child[] = [];
  const mock = await startMock(ctx.env, { latencyMs: 0 });
  children.push(mock.child);
  try {
    const cpuProfile = profiling ? { dir: join(ctx.opts.profileDir, `proxy-p-${Date.now()}`) } : undefined;
    const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin, cpuProfile });
    children.push(proxy.child);
    const fwd = await startForwarder(ctx, mock.origin);
    children.push(fwd.child);
    const lctx: Ctx = { ...ctx, opts: { ...ctx.opts, connections: CONNECTIONS } };
    const submitTargets: Target[] = [
      ...(profiling ? [] : [{ name: 'node directly', origin: mock.origin, pid: mock.child.pid, runs: [] }]),
      { name: 'forwarder (node:http + undici Pool)', origin: fwd.origin, pid: fwd.child.pid, runs: [] },
      { name: 'ledgerproxy pass-through', origin: proxy.origin, pid: proxy.child.pid, runs: [] },
    ];
    const streamTargets: Target[] = profiling ? [] : [
      { name: 'forwarder, 1 MiB stream', origin: fwd.origin, pid: fwd.child.pid, runs: [] },
      { name: 'ledgerproxy, 1 MiB stream', origin: proxy.origin, pid: proxy.child.pid, runs: [] },
    ];
    for (let round = 0; round < ctx.opts.rounds; round++) {
      ctx.log(`  round ${round + 1}/${ctx.opts.rounds}`);
      for (const t of submitTargets) t.runs.push(await measure(lctx, t.origin, SUBMIT, t.name, t.pid));
      for (const t of streamTargets) t.runs.push(await measure(lctx, t.origin, STREAM_1M, t.name, t.pid));
    }
    const lines: string[] = [];
    const goals: Goal[] = [];
    submitSection(submitTargets, lines, goals);
    if (!profiling) {
      streamSection(streamTargets, lines);
      await slowReaderSection(ctx, proxy.origin, proxy.child.pid, lines, goals);
      await websocketSection(ctx, mock.origin, proxy.origin, lines, goals);
    }
    const section: Section = { id: 'p', title: '(p) Pass-through — transaction submits, streams, WebSocket: proxy vs forwarder vs node', lines, goals };
    if (cpuProfile) {
      const served = await proxy.requestsServed();
      await proxy.child.stop('SIGTERM', 15_000);
      section.profiles = [{ label: 'ledgerproxy, pass-through (transaction submits)', file: mainThreadProfile(cpuProfile.dir), requests: served }];
    }
    return section;
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}

async function startForwarder(ctx: Ctx, upstream: string): Promise<{ origin: string; child: Child }> {
  const port = await freePort();
  const child = spawnChild('forwarder', process.execPath, ['--import', 'tsx', join(ctx.env.root, 'bench', 'forwarder.ts'), String(port), upstream], {
    cwd: ctx.env.root,
    logFile: join(ctx.env.tmp, `forwarder-${port}.log`),
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitHttpOk(`${origin}/v1`, 20_000, child);
  return { origin, child };
}

function rowsOf(targets: Target[]): Array<{ name: string; agg: Aggregate }> {
  return targets.map((t) => ({ name: t.name, agg: aggregate(t.runs) }));
}

function submitSection(targets: Target[], lines: string[], goals: Goal[]): void {
  const rows = rowsOf(targets);
  const fwd = rows.find((r) => r.name.startsWith('forwarder'))?.agg;
  const prox = rows.find((r) => r.name.startsWith('ledgerproxy'))?.agg;
  lines.push(
    `Transaction submits: \`POST /v1/transactions\` (${SUBMIT_BODY.length} bytes of JSON), answered 202 at once by the mock; ${CONNECTIONS} connections.`,
    'The forwarder is `bench/forwarder.ts` (node:http in, one undici Pool out, nothing else; run through tsx). "server CPU µs/req":',
    'user + system time of the process answering the client, per request.',
    '',
    ...loadTable(rows, rows[0]?.name.startsWith('node') ? 'node' : 'forwarder'),
    '',
  );
  if (!fwd || !prox || fwd.cpuUsPerReq === undefined || prox.cpuUsPerReq === undefined) return;
  const cpu = prox.cpuUsPerReq / fwd.cpuUsPerReq;
  const p99 = prox.p99ms / fwd.p99ms;
  const perRound = prox.runs.map((r, i) => {
    const f = fwd.runs[i];
    return f?.cpuUsPerReq && r.cpuUsPerReq ? (r.cpuUsPerReq / f.cpuUsPerReq).toFixed(2) : 'n/a';
  });
  lines.push(`Proxy/forwarder CPU per request: ${fmtRatio(cpu)} (per round ${perRound.join(', ')}); p99 ${fmtRatio(p99)}; req/s ${fmtRatio(prox.rps / fwd.rps)}.`, '');
  goals.push(goal('(p) submit CPU/req ≤ 1.5 × forwarder', cpu <= 1.5, `${prox.cpuUsPerReq.toFixed(0)} vs ${fwd.cpuUsPerReq.toFixed(0)} µs/req = ${fmtRatio(cpu)}`));
  goals.push(goal('(p) submit p99 ≤ 2 × forwarder', p99 <= 2, `${prox.p99ms.toFixed(2)} vs ${fwd.p99ms.toFixed(2)} ms = ${fmtRatio(p99)}`));
}

function streamSection(targets: Target[], lines: string[]): void {
  const rows = rowsOf(targets);
  const [fwd, prox] = [rows[0]?.agg, rows[1]?.agg];
  lines.push(`1 MiB streamed answer (\`GET /v1/stream/bytes?n=1048576\`, 64 KiB writes with backpressure), ${CONNECTIONS} connections:`, '', ...loadTable(rows, 'forwarder'), '');
  if (fwd?.cpuUsPerReq && prox?.cpuUsPerReq) lines.push(`Proxy/forwarder CPU per 1 MiB answer: ${fmtRatio(prox.cpuUsPerReq / fwd.cpuUsPerReq)}.`, '');
}

/**
 * A 100 MiB NDJSON answer read at a bounded rate (a slow client): with backpressure the proxy
 * holds no more than socket buffers of it, so its RSS stays near where it started.
 */
async function slowReaderSection(ctx: Ctx, origin: string, pid: number, lines: string[], goals: Goal[]): Promise<void> {
  const bytesPerSec = ctx.opts.quick ? 60 * 1_048_576 : 25 * 1_048_576;
  const before = procMemory(pid)?.rss ?? NaN;
  let peak = before;
  const sampler = setInterval(() => {
    const m = procMemory(pid);
    if (m && m.rss > peak) peak = m.rss;
  }, 50);
  const started = performance.now();
  let got = 0;
  try {
    got = await slowRead(`${origin}/v1/stream/ndjson?mb=${NDJSON_MIB}`, bytesPerSec);
  } finally {
    clearInterval(sampler);
  }
  const secs = (performance.now() - started) / 1000;
  const grew = peak - before;
  const whole = got === NDJSON_MIB * 1_048_576;
  lines.push(
    `Slow reader: ${mib(got)} of NDJSON read through the proxy at ≤ ${mib(bytesPerSec)}/s in ${secs.toFixed(1)} s;`,
    `proxy RSS ${mib(before)} before, peak ${mib(peak)} during (+${mib(grew)}).`,
    '',
  );
  goals.push(goal(`(p) ${NDJSON_MIB} MiB to a slow reader: RSS flat (peak ≤ start + 64 MiB)`, whole && grew <= 64 * 1_048_576, `${whole ? 'whole answer' : `only ${got} bytes`}, peak +${mib(grew)}`));
}

/** Reads the answer, pausing so that no more than bytesPerSec arrive per second; resolves with the byte count. */
function slowRead(url: string, bytesPerSec: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let bytes = 0;
    httpGet(url, { agent: false }, (res) => {
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        const ahead = (bytes / bytesPerSec) * 1000 - (performance.now() - t0);
        if (ahead > 5) {
          res.pause();
          setTimeout(() => res.resume(), ahead);
        }
      });
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

/** Echo round trips over SOCKETS WebSockets for a fixed time, through the proxy and directly. */
async function websocketSection(ctx: Ctx, direct: string, proxy: string, lines: string[], goals: Goal[]): Promise<void> {
  const secs = ctx.opts.quick ? 2 : 5;
  const viaProxy = await wsRoundTrips(`${proxy.replace('http', 'ws')}/v1/ws`, secs);
  const viaNode = await wsRoundTrips(`${direct.replace('http', 'ws')}/v1/ws`, secs);
  const ratio = viaProxy.perSec / viaNode.perSec;
  lines.push(
    `WebSocket relay: ${SOCKETS} sockets, one 64-byte message in flight each, echoed by the node, ${secs} s each:`,
    `${Math.round(viaProxy.perSec).toLocaleString('en-US')} round trips/s through the proxy vs ${Math.round(viaNode.perSec).toLocaleString('en-US')} direct (${fmtRatio(ratio)}); ${viaProxy.wrong + viaNode.wrong} wrong echoes.`,
    '',
  );
  goals.push(goal('(p) WebSocket relay works (every echo right)', viaProxy.wrong === 0 && viaProxy.perSec > 0, `${fmtRatio(ratio)} of direct round trips/s`));
}

const SOCKETS = 8;

async function wsRoundTrips(url: string, secs: number): Promise<{ perSec: number; wrong: number }> {
  const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws)).once('error', reject);
  })));
  const until = performance.now() + secs * 1000;
  let trips = 0;
  let wrong = 0;
  const started = performance.now();
  await Promise.all(sockets.map((ws, i) => new Promise<void>((resolve) => {
    const msg = `m${i}:${'x'.repeat(60)}`.slice(0, 64);
    ws.on('message', (m: Buffer) => {
      if (m.toString() !== msg) wrong++;
      trips++;
      if (performance.now() < until) ws.send(msg);
      else resolve();
    });
    ws.send(msg);
  })));
  const perSec = trips / ((performance.now() - started) / 1000);
  for (const ws of sockets) ws.close();
  await sleep(50);
  return { perSec, wrong };
}
