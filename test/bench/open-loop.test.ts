// The open-loop driver of the SLO scenario (bench/lib/open-loop.ts) against a real node:http server:
// it sends on its schedule whatever the answers do, and times each call from its *scheduled* send,
// so a stalled server costs every call queued behind it (no coordinated omission). The assertions
// are lower bounds and counts that a slow machine cannot break: no timing claim is made here.
import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openLoop, type OpenLoopSpec } from '../../bench/lib/open-loop.js';
import { balanceMixGenerator, type BalanceMix } from '../../bench/lib/workloads.js';

const mix = (seed: number): BalanceMix => ({ kind: 'evm-balance-mix', path: '/rpc', hotAccounts: 5, hotShare: 0.5, tag: '42', seed });

async function rpcServer(delayMs: number, answer = (body: string) => `{"jsonrpc":"2.0","id":${/"id":(\d+)/.exec(body)?.[1] ?? 'null'},"result":"0x1"}`): Promise<{ server: Server; origin: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(answer(body)), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

t.test('balance mix: exactly the hot share, same sequence for the same seed, new accounts never repeat', async (t) => {
  const a = balanceMixGenerator(mix(7));
  const b = balanceMixGenerator(mix(7));
  const calls = Array.from({ length: 1000 }, a);
  t.same(Array.from({ length: 1000 }, b), calls, 'same seed, same calls');
  t.equal(calls.filter((c) => c.hot).length, 500, 'exactly half hot');
  const account = (body: string) => JSON.parse(body).params[0] as string;
  const hot = new Set(calls.filter((c) => c.hot).map((c) => account(c.body)));
  const fresh = calls.filter((c) => !c.hot).map((c) => account(c.body));
  t.ok(hot.size <= 5, `at most 5 hot accounts (${hot.size})`);
  t.equal(new Set(fresh).size, fresh.length, 'every other call asks for a new account');
  t.ok(fresh.every((x) => !hot.has(x) && /^0x[0-9a-f]{40}$/.test(x)), 'valid addresses, never a hot one');
  t.ok(calls.every((c) => /"method":"eth_getBalance","params":\["0x[0-9a-f]{40}","latest"\]/.test(c.body)), 'eth_getBalance at latest');
});

t.test('open loop: a server slower than the schedule is charged from the scheduled send', async (t) => {
  // One connection, 50 ms per answer, a call due every 10 ms: a closed-loop driver would send one
  // call per 50 ms and see 50 ms each. Call k cannot finish before (k + 1) × 50 ms after the start
  // and was due at k × 10 ms, so the last of 30 is late by at least 30 × 50 − 290 = 1,210 ms.
  const { server, origin, bodies } = await rpcServer(50);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const spec: OpenLoopSpec = { origin, rate: 100, durationSec: 0.3, connections: 1, timeoutMs: 10_000, workload: mix(1) };
  const r = await openLoop(spec);
  t.equal(r.scheduled, 30);
  t.equal(r.ok, 30, 'every call answered with a result');
  t.equal(r.non2xx + r.rpcErrors + r.errors, 0);
  t.equal(bodies.length, 30, 'the server saw every call');
  t.equal(r.hot.count + r.distinct.count, 30);
  t.ok(r.all.maxms >= 1210, `slowest call timed from its due time: ${r.all.maxms.toFixed(0)} ms ≥ 1210`);
  t.ok(r.all.p50ms >= 50 + 40 * 14, `median too: ${r.all.p50ms.toFixed(0)} ms ≥ 610`);
  t.ok(r.seconds >= 1.5, `the run lasts until the last answer (${r.seconds.toFixed(2)} s)`);
});

t.test('open loop: JSON-RPC errors and failed connections are counted, not timed away', async (t) => {
  const { server, origin } = await rpcServer(0, (body) => `{"jsonrpc":"2.0","id":${/"id":(\d+)/.exec(body)?.[1] ?? 'null'},"error":{"code":-32000,"message":"boom"}}`);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const bad = await openLoop({ origin, rate: 100, durationSec: 0.1, connections: 4, timeoutMs: 5000, workload: mix(2) });
  t.equal(bad.rpcErrors, 10);
  t.equal(bad.ok, 0);
  t.match(bad.firstError ?? '', /HTTP 200 .*boom/);
  // A port nobody listens on: every call is a connection error.
  const closed = await rpcServer(0);
  const deadOrigin = closed.origin;
  await new Promise<void>((resolve) => closed.server.close(() => resolve()));
  const dead = await openLoop({ origin: deadOrigin, rate: 100, durationSec: 0.1, connections: 4, timeoutMs: 5000, workload: mix(3) });
  t.equal(dead.errors, 10);
  t.equal(dead.all.count, 10, 'failed calls still have a latency');
});
