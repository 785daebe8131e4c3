// callGroup when no hedge can go out (a group of one node, a strong read, hedging off): the try is
// one direct attempt, without a race. A race shows itself by what its timer does at the delay:
// it marks the waiting node stalled and asks the budget for a hedge (denied when the budget is 0).
// Also the request deadline: cut at it, as the per-request AbortController did.
import t, { type Test } from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { dialectFor } from '../../src/dialects/index.js';
import { UpstreamConnectError } from '../../src/errors.js';
import type { ForwardInfo, UpstreamAnswer } from '../../src/upstream/client.js';
import { deadlineStats } from '../../src/upstream/deadlines.js';
import { callGroup, type UpstreamCall } from '../../src/upstream/failover.js';
import { groupHedgeOf } from '../../src/upstream/hedge.js';
import { ReplicaSet } from '../../src/upstream/replica-set.js';
import { startAptosNode, APTOS_ACCOUNTS, type AptosNodeHandle } from '../support/aptos-node.js';

const fwd: ForwardInfo = { requestId: 'rid-nr', clientIp: '127.0.0.1', forwardedFor: '127.0.0.1', proto: 'http', host: 'proxy.test' };
const read = (extra: Partial<UpstreamCall> = {}): UpstreamCall => ({
  payload: { method: 'GET', pathAndQuery: `/v1/accounts/${APTOS_ACCOUNTS.alice}/resources`, headers: { accept: 'application/json' } },
  write: false,
  ...extra,
});

async function nodes(t: Test, n: number): Promise<AptosNodeHandle[]> {
  const all = await Promise.all(Array.from({ length: n }, () => startAptosNode()));
  t.teardown(() => Promise.all(all.map((x) => x.close())));
  return all;
}

function makeSet(t: Test, primary: AptosNodeHandle, replicas: AptosNodeHandle[], hedge = '{ enabled: true, delayMs: 15, maxExtraPercent: 0 }', retry = '{ attempts: 1, baseDelayMs: 1, maxDelayMs: 2 }'): ReplicaSet {
  const yaml = `
upstreams:
  g:
    dialect: aptos-rest
    primary: ${primary.url}
    replicas: [${replicas.map((r) => r.url).join(', ')}]
    hedge: ${hedge}
    retry: ${retry}
    timeouts: { connectMs: 1000, headersMs: 2000, bodyMs: 2000 }
    health: { ejectAfterFailures: 2, openMs: 600000 }
routes:
  - match: { pathPrefix: / }
    upstream: g
`;
  const cfg = parseConfigText(yaml, 'no-race-test').upstreams['g'];
  if (!cfg) throw new Error('no group');
  const set = new ReplicaSet('g', cfg, dialectFor('aptos-rest'));
  t.teardown(() => set.close());
  return set;
}

/** Runs the call and reports whether `node` looked stalled halfway through a slow answer. */
async function stalledMidway(set: ReplicaSet, call: UpstreamCall, nodeIndex: number): Promise<{ answer: UpstreamAnswer; stalled: boolean }> {
  const pending = callGroup(set, call, fwd);
  await new Promise((r) => setTimeout(r, 50));
  const stalled = set.all[nodeIndex]?.breaker.stalled === true;
  return { answer: await pending, stalled };
}

t.test('the control: a replica read in a group of three is raced (the stall and the denied hedge show it)', async (t) => {
  const [p, r0, r1] = (await nodes(t, 3)) as [AptosNodeHandle, AptosNodeHandle, AptosNodeHandle];
  const set = makeSet(t, p, [r0, r1]);
  r0.setFault({ kind: 'slow', ms: 100 });
  const { answer, stalled } = await stalledMidway(set, read(), 1);
  t.equal(answer.node.name, 'replica-0');
  t.ok(stalled, 'the race marked replica-0 stalled at the delay');
  t.equal(groupHedgeOf(set).budget.denied, 1, 'and asked the budget for a hedge');
});

t.test('a group of one node: no race, no timer, no stall; budget and window as before', async (t) => {
  const [p] = (await nodes(t, 1)) as [AptosNodeHandle];
  const set = makeSet(t, p, []);
  p.setFault({ kind: 'slow', ms: 100 });
  const armed = deadlineStats().timersArmed;
  const { answer, stalled } = await stalledMidway(set, read(), 0);
  t.equal(answer.status, 200);
  t.notOk(stalled, 'no race marked the only node stalled');
  t.equal(groupHedgeOf(set).budget.denied, 0, 'no hedge was asked for');
  t.equal(groupHedgeOf(set).window.samples, 1, 'the answer time still feeds the hedge delay');
  t.equal(deadlineStats().timersArmed, armed, 'no deadline, no timer');
  p.setFault({ kind: 'status', status: 503 });
  const failed = await callGroup(set, read(), fwd);
  t.equal(failed.status, 503, 'a failure is not retried on the same node');
  t.equal(p.calls.total, 2, 'one call each');
});

t.test('a strong read in a group of three: no race on the primary, the budget still fed', async (t) => {
  const [p, r0, r1] = (await nodes(t, 3)) as [AptosNodeHandle, AptosNodeHandle, AptosNodeHandle];
  const set = makeSet(t, p, [r0, r1], '{ enabled: true, delayMs: 15, maxExtraPercent: 50 }');
  const budget = groupHedgeOf(set).budget;
  while (budget.tryTake()) { /* drain the burst */ }
  p.setFault({ kind: 'slow', ms: 100 });
  const { answer, stalled } = await stalledMidway(set, read({ strong: true }), 0);
  t.equal(answer.node.name, 'primary');
  t.notOk(stalled, 'no race marked the primary stalled');
  t.equal(budget.available, 0.5, 'the first attempt added its share to the budget, as in a race');
  t.same([r0.calls.total, r1.calls.total], [0, 0]);
});

t.test('hedging off: one attempt, no stall', async (t) => {
  const [p, r0] = (await nodes(t, 2)) as [AptosNodeHandle, AptosNodeHandle];
  const set = makeSet(t, p, [r0], '{ enabled: false, delayMs: 15 }');
  r0.setFault({ kind: 'slow', ms: 100 });
  const { answer, stalled } = await stalledMidway(set, read(), 1);
  t.equal(answer.node.name, 'replica-0');
  t.notOk(stalled);
  t.equal(p.calls.total, 0);
});

t.test('the request deadline cuts a hung node: not held against it, not retried, nothing left pending', async (t) => {
  const [p, r0] = (await nodes(t, 2)) as [AptosNodeHandle, AptosNodeHandle];
  for (const hedge of ['{ enabled: false }', '{ enabled: true, delayMs: 30 }']) {
    const set = makeSet(t, p, [r0], hedge);
    for (const n of [p, r0]) {
      n.setFault({ kind: 'hang' });
      n.resetCalls();
    }
    const started = performance.now();
    let err: unknown;
    try {
      await callGroup(set, read(), fwd, started + 150);
    } catch (e) {
      err = e;
    }
    const took = performance.now() - started;
    t.ok(err instanceof UpstreamConnectError, `${hedge}: ${String(err)}`);
    t.match((err as Error).message, /request deadline/);
    t.ok(took >= 145 && took < 1_000, `${hedge}: cut at the deadline (${Math.round(took)} ms), not at headersMs`);
    t.equal(set.all.filter((n) => n.breaker.consecutiveFailures > 0).length, 0, `${hedge}: no node blamed for the deadline`);
    t.equal(deadlineStats().pending, 0, `${hedge}: the deadline left the heap`);
  }
});

t.test('the deadline during a retry backoff: the retry fails at once, counted as aborted', async (t) => {
  const [p, r0] = (await nodes(t, 2)) as [AptosNodeHandle, AptosNodeHandle];
  const set = makeSet(t, p, [r0], '{ enabled: false }', '{ attempts: 1, baseDelayMs: 2000, maxDelayMs: 2000 }');
  r0.setFault({ kind: 'status', status: 503 });
  const started = performance.now();
  let err: unknown;
  try {
    await callGroup(set, read(), fwd, started + 200);
  } catch (e) {
    err = e;
  }
  const took = performance.now() - started;
  t.ok(err instanceof UpstreamConnectError && /request deadline/.test(err.message), String(err));
  t.ok(took < 1_000, `the backoff was cut short (${Math.round(took)} ms)`);
  t.equal(p.calls.total, 0, 'the retry never reached the primary');
});

t.test('a deadline already past: the call fails without reaching a node', async (t) => {
  const [p] = (await nodes(t, 1)) as [AptosNodeHandle];
  const set = makeSet(t, p, [], '{ enabled: false }');
  let err: unknown;
  try {
    await callGroup(set, read(), fwd, performance.now() - 1);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof UpstreamConnectError && /request deadline/.test(err.message), String(err));
  t.equal(p.calls.total, 0);
  t.equal(set.primary.inflight, 0);
});
