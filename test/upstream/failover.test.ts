// callGroup against real mock Aptos nodes: which node gets each attempt, what is retried, and how
// outcomes move nodes out of and back into rotation.
import t, { type Test } from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { dialectFor } from '../../src/dialects/index.js';
import type { UpstreamPayload } from '../../src/dialects/types.js';
import { ProxyError, UpstreamConnectError, UpstreamResponseTooLargeError, UpstreamTimeoutError } from '../../src/errors.js';
import type { ForwardInfo, UpstreamAnswer } from '../../src/upstream/client.js';
import { callGroup, type UpstreamCall } from '../../src/upstream/failover.js';
import { HeadTracker } from '../../src/upstream/head-tracker.js';
import { ReplicaSet } from '../../src/upstream/replica-set.js';
import { startAptosNode, APTOS_ACCOUNTS, type AptosNodeHandle } from '../support/aptos-node.js';
import type { Fault } from '../support/node-faults.js';

const fwd: ForwardInfo = { requestId: 'rid-f', clientIp: '127.0.0.1', forwardedFor: '127.0.0.1', proto: 'http', host: 'proxy.test' };

interface Nodes {
  primary: AptosNodeHandle;
  r0: AptosNodeHandle;
  r1: AptosNodeHandle;
  all: AptosNodeHandle[];
}

async function startNodes(t: Test): Promise<Nodes> {
  const all = await Promise.all([startAptosNode(), startAptosNode(), startAptosNode()]);
  t.teardown(() => Promise.all(all.map((n) => n.close())));
  const [primary, r0, r1] = all as [AptosNodeHandle, AptosNodeHandle, AptosNodeHandle];
  return { primary, r0, r1, all };
}

interface SetOptions {
  retry?: string;
  timeouts?: string;
  health?: string;
  extra?: string;
  replicas?: AptosNodeHandle[];
}

/** A fresh set (fresh round-robin cursor, fresh breakers) over the nodes; node calls reset. */
function makeSet(t: Test, nodes: Nodes, o: SetOptions = {}): ReplicaSet {
  const replicas = o.replicas ?? [nodes.r0, nodes.r1];
  const yaml = `
upstreams:
  g:
    dialect: aptos-rest
    primary: ${nodes.primary.url}
    replicas: [${replicas.map((r) => r.url).join(', ')}]
    retry: ${o.retry ?? '{ attempts: 1, baseDelayMs: 1, maxDelayMs: 2 }'}
    timeouts: ${o.timeouts ?? '{ connectMs: 1000, headersMs: 2000, bodyMs: 2000 }'}
    health: ${o.health ?? '{ ejectAfterFailures: 2, openMs: 600000 }'}
${o.extra ?? ''}
routes:
  - match: { pathPrefix: / }
    upstream: g
`;
  const cfg = parseConfigText(yaml, 'failover-test').upstreams['g'];
  if (!cfg) throw new Error('no group');
  const set = new ReplicaSet('g', cfg, dialectFor('aptos-rest'));
  t.teardown(() => set.close());
  for (const n of nodes.all) {
    n.setFault({ kind: 'none' });
    n.resetCalls();
  }
  return set;
}

const readPayload = (q = ''): UpstreamPayload => ({
  method: 'GET',
  pathAndQuery: `/v1/accounts/${APTOS_ACCOUNTS.alice}/resources${q}`,
  headers: { accept: 'application/json' },
});
const read = (q = '', extra: Partial<UpstreamCall> = {}): UpstreamCall => ({ payload: readPayload(q), write: false, ...extra });
const write: UpstreamCall = {
  payload: {
    method: 'POST',
    pathAndQuery: '/v1/transactions',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: Buffer.from(JSON.stringify({ sender: APTOS_ACCOUNTS.alice, sequence_number: '0', payload: {} })),
  },
  write: true,
};

async function outcome(p: Promise<UpstreamAnswer>): Promise<UpstreamAnswer | ProxyError> {
  try {
    return await p;
  } catch (err) {
    return err as ProxyError;
  }
}

const calls = (nodes: Nodes) => ({ primary: nodes.primary.calls.total, r0: nodes.r0.calls.total, r1: nodes.r1.calls.total });

t.test('a read that fails on one replica is answered by the other', async (t) => {
  const nodes = await startNodes(t);
  const faults: Array<[string, Fault]> = [
    ['503', { kind: 'status', status: 503 }],
    ['502', { kind: 'status', status: 502 }],
    ['504', { kind: 'status', status: 504 }],
    ['connection reset', { kind: 'reset' }],
    ['cut mid-body', { kind: 'close-mid-body' }],
  ];
  for (const [label, fault] of faults) {
    const set = makeSet(t, nodes);
    nodes.r0.setFault(fault); // a fresh set tries replica-0 first
    const answer = await callGroup(set, read(), fwd);
    t.equal(answer.status, 200, `${label}: answered`);
    t.equal(answer.node.name, 'replica-1', `${label}: by the other replica`);
    t.same(calls(nodes), { primary: 0, r0: 1, r1: 1 }, `${label}: one call each, no more`);
    t.equal(set.replicas[0]?.breaker.consecutiveFailures, 1, `${label}: counted against replica-0`);
    t.equal(set.replicas[1]?.breaker.consecutiveFailures, 0);
  }
});

t.test('a read to a node that refuses connections is retried on another', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  await nodes.r0.kill();
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.status, 200);
  t.equal(answer.node.name, 'replica-1');
  t.same(calls(nodes), { primary: 0, r0: 0, r1: 1 });
  t.equal(set.replicas[0]?.breaker.consecutiveFailures, 1, 'replica-0 was tried and failed');
});

t.test('retries are bounded by retry.attempts', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  for (const n of nodes.all) n.setFault({ kind: 'status', status: 503 });
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.status, 503, 'the last failure is returned');
  t.same(calls(nodes), { primary: 0, r0: 1, r1: 1 }, 'attempts: 1 = two tries in all');

  const wider = makeSet(t, nodes, { retry: '{ attempts: 2, baseDelayMs: 1, maxDelayMs: 2 }', health: '{ ejectAfterFailures: 5 }' });
  for (const n of nodes.all) n.setFault({ kind: 'status', status: 503 });
  await callGroup(wider, read(), fwd);
  t.same(calls(nodes), { primary: 1, r0: 1, r1: 1 }, 'attempts: 2 reaches the primary last');

  const none = makeSet(t, nodes, { retry: '{ attempts: 0 }' });
  nodes.r0.setFault({ kind: 'status', status: 503 });
  const single = await callGroup(none, read(), fwd);
  t.equal(single.status, 503);
  t.same(calls(nodes), { primary: 0, r0: 1, r1: 0 }, 'attempts: 0 = no retry');
});

t.test('a client error (4xx) is not retried and does not count against the node', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  nodes.r0.setFault({ kind: 'status', status: 400, body: '{"message":"bad","error_code":"invalid_input"}' });
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.status, 400);
  t.same(calls(nodes), { primary: 0, r0: 1, r1: 0 });
  t.equal(set.replicas[0]?.breaker.consecutiveFailures, 0);
});

t.test('a write is never retried: 503, reset, refused or timeout', async (t) => {
  const nodes = await startNodes(t);
  {
    const set = makeSet(t, nodes);
    nodes.primary.setFault({ kind: 'status', status: 503 });
    const answer = await callGroup(set, write, fwd);
    t.equal(answer.status, 503);
    t.same(calls(nodes), { primary: 1, r0: 0, r1: 0 }, '503: sent once, to the primary');
  }
  {
    const set = makeSet(t, nodes);
    nodes.primary.setFault({ kind: 'reset' });
    const err = await outcome(callGroup(set, write, fwd));
    t.ok(err instanceof UpstreamConnectError, `reset: ${String(err)}`);
    t.same(calls(nodes), { primary: 1, r0: 0, r1: 0 }, 'reset: sent once');
  }
  {
    const set = makeSet(t, nodes, { timeouts: '{ headersMs: 100 }' });
    nodes.primary.setFault({ kind: 'hang' });
    const err = await outcome(callGroup(set, write, fwd));
    t.ok(err instanceof UpstreamTimeoutError, `hang: ${String(err)}`);
    t.same(calls(nodes), { primary: 1, r0: 0, r1: 0 }, 'timeout: sent once (it may have been applied)');
  }
  {
    const set = makeSet(t, nodes);
    await nodes.primary.kill();
    const err = await outcome(callGroup(set, write, fwd));
    t.ok(err instanceof UpstreamConnectError, `refused: ${String(err)}`);
    t.same(calls(nodes), { primary: 0, r0: 0, r1: 0 }, 'refused: not sent anywhere else');
    await nodes.primary.restart();
  }
});

t.test('a write goes to the primary even when it is out of rotation', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { health: '{ ejectAfterFailures: 1, openMs: 600000 }' });
  nodes.primary.setFault({ kind: 'status', status: 503, times: 1 });
  await callGroup(set, write, fwd);
  t.equal(set.primary.healthy, false, 'primary ejected');
  const answer = await callGroup(set, write, fwd);
  t.equal(answer.status, 202);
  t.equal(answer.node.name, 'primary');
  t.same(calls(nodes), { primary: 2, r0: 0, r1: 0 });
});

t.test('a node failing ejectAfterFailures times in a row leaves the rotation', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  const r0 = set.replicas[0];
  nodes.r0.setFault({ kind: 'status', status: 503 });
  const statuses: number[] = [];
  for (let i = 0; i < 6 && r0?.healthy; i++) statuses.push((await callGroup(set, read(`?i=${i}`), fwd)).status);
  t.equal(r0?.healthy, false, 'replica-0 is out');
  t.equal(r0?.breaker.consecutiveFailures, 2);
  t.same(new Set(statuses), new Set([200]), 'every read was still answered');
  const before = nodes.r0.calls.total;
  for (let i = 0; i < 10; i++) t.equal((await callGroup(set, read(`?j=${i}`), fwd)).node.name, 'replica-1');
  t.equal(nodes.r0.calls.total, before, 'no traffic to the ejected node');
});

t.test('an ejected node gets a trial after openMs and is back on success', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { health: '{ ejectAfterFailures: 1, openMs: 300 }' });
  const r0 = set.replicas[0];
  nodes.r0.setFault({ kind: 'status', status: 503, times: 1 });
  await callGroup(set, read(), fwd);
  t.not(r0?.breaker.state(Date.now()), 'closed', 'out of rotation');
  await new Promise((r) => setTimeout(r, 350));
  t.equal(r0?.breaker.state(Date.now()), 'half-open');
  nodes.r0.resetCalls();
  // Two reads: round-robin reaches replica-0 in one of them.
  for (let i = 0; i < 2; i++) t.equal((await callGroup(set, read(`?k=${i}`), fwd)).status, 200);
  t.equal(nodes.r0.calls.total, 1, 'one trial request');
  t.equal(r0?.breaker.state(Date.now()), 'closed', 'recordSuccess closed the breaker');
  t.equal(r0?.breaker.consecutiveFailures, 0);
});

t.test('a primary-only group whose node came back is reinstated by a successful read', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { health: '{ ejectAfterFailures: 2, openMs: 300 }', replicas: [] });
  await nodes.primary.kill();
  for (let i = 0; i < 2; i++) t.ok((await outcome(callGroup(set, read(), fwd))) instanceof UpstreamConnectError);
  t.equal(set.primary.healthy, false);
  await nodes.primary.restart();
  await new Promise((r) => setTimeout(r, 350));
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.status, 200);
  t.equal(set.primary.healthy, true);
  t.equal(set.primary.breaker.state(Date.now()), 'closed');
});

t.test('an answer too large is not retried and does not count against the node', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    maxResponseBytes: 64', health: '{ ejectAfterFailures: 1, openMs: 600000 }' });
  const err = await outcome(callGroup(set, read(), fwd));
  t.ok(err instanceof UpstreamResponseTooLargeError, String(err));
  t.same(calls(nodes), { primary: 0, r0: 1, r1: 0 }, 'one try only');
  t.equal(set.replicas[0]?.healthy, true, 'still in rotation');
  t.equal(set.replicas[0]?.breaker.consecutiveFailures, 0);
});

t.test('heads and the pruning point are learned from answer headers', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  nodes.r0.setFault({ kind: 'none', prunedBelow: 300 });
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.node.name, 'replica-0');
  t.equal(set.replicas[0]?.head, BigInt(nodes.r0.ledger.reportedVersion));
  t.equal(set.replicas[0]?.oldest, 300n);
  t.equal(set.replicas[1]?.head, undefined, 'not asked, not known');
});

t.test('a pinned read that hits a pruned node (410) is retried on a node that has it', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  nodes.r0.setFault({ kind: 'none', prunedBelow: 900 });
  const answer = await callGroup(set, read('?ledger_version=500', { pin: 500n }), fwd);
  t.equal(answer.status, 200);
  t.equal(answer.node.name, 'replica-1');
  t.same(calls(nodes), { primary: 0, r0: 1, r1: 1 });
  t.equal(set.replicas[0]?.oldest, 900n, 'the pruning point was learned');
  t.equal(set.replicas[0]?.breaker.consecutiveFailures, 0, 'a 410 is not a node failure');
  // From now on the pruned node is not asked for that version.
  nodes.r0.resetCalls();
  for (let i = 0; i < 4; i++) await callGroup(set, read(`?ledger_version=500&n=${i}`, { pin: 500n }), fwd);
  t.equal(nodes.r0.calls.total, 0);
});

t.test('an unpinned read that answers 410 is not retried', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  nodes.r0.setFault({ kind: 'status', status: 410 });
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.status, 410);
  t.same(calls(nodes), { primary: 0, r0: 1, r1: 0 });
});

t.test('the group headers and the forwarding headers reach the node', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    headers: { authorization: "Bearer group-secret", x-api-key: k-123 }' });
  await callGroup(set, read(), fwd);
  const h = nodes.r0.requests[0]?.headers ?? {};
  t.equal(h['authorization'], 'Bearer group-secret');
  t.equal(h['x-api-key'], 'k-123');
  t.equal(h['x-request-id'], 'rid-f');
  t.equal(h['x-forwarded-for'], '127.0.0.1');
  t.equal(h['x-forwarded-host'], 'proxy.test');
  t.equal(h['x-forwarded-proto'], 'http');
});

t.test('a strong read goes to the primary', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  const answer = await callGroup(set, read('', { strong: true }), fwd);
  t.equal(answer.node.name, 'primary');
  t.same(calls(nodes), { primary: 1, r0: 0, r1: 0 });
});

t.test('a strong read that fails on the primary is not answered by a replica', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes);
  nodes.primary.setFault({ kind: 'status', status: 503 });
  const result = await outcome(callGroup(set, read('', { strong: true }), fwd));
  t.equal(nodes.r0.calls.total + nodes.r1.calls.total, 0, 'no replica was asked (it may lag behind the primary)');
  t.ok(result instanceof ProxyError || result.node.name === 'primary', 'the answer, if any, is the primary\'s');
});

t.test('a half-open trial that ends in a non-retryable error releases the trial slot', async (t) => {
  const nodes = await startNodes(t);
  // Answers over 64 bytes are "too large"; the 503 fault body is shorter.
  const set = makeSet(t, nodes, { extra: '    maxResponseBytes: 64', health: '{ ejectAfterFailures: 1, openMs: 200 }' });
  const r0 = set.replicas[0];
  nodes.r0.setFault({ kind: 'status', status: 503, times: 1 });
  await outcome(callGroup(set, read(), fwd)); // replica-0: 503 → open; replica-1: too large
  t.not(r0?.breaker.state(Date.now()), 'closed', 'replica-0 out of rotation');
  for (const until = Date.now() + 10_000; r0?.breaker.state(Date.now()) === 'open' && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
  t.equal(r0?.breaker.state(Date.now()), 'half-open');
  nodes.r0.resetCalls();
  // Round-robin reaches replica-0 within two reads; its trial answer is too large.
  for (let i = 0; i < 2 && nodes.r0.calls.total === 0; i++) {
    const err = await outcome(callGroup(set, read(`?t=${i}`), fwd));
    t.ok(err instanceof UpstreamResponseTooLargeError, String(err));
  }
  t.equal(nodes.r0.calls.total, 1, 'the trial went to replica-0');
  const state = r0?.breaker.state(Date.now());
  const available = r0?.breaker.isAvailable(Date.now());
  t.ok(
    state === 'closed' || state === 'open' || available === true,
    `the trial is over: the breaker must not stay half-open with its one trial slot taken (state ${state}, available ${available})`,
  );
});

const waitFor = async (cond: () => boolean, ms = 5_000) => {
  for (const until = Date.now() + ms; !cond() && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
};

t.test('a read with no headers after the hedge delay is answered by the hedge; the hung node is charged', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    hedge: { delayMs: 30 }', health: '{ ejectAfterFailures: 3, openMs: 600000 }' });
  nodes.r0.setFault({ kind: 'hang' });
  const started = Date.now();
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.status, 200);
  t.equal(answer.node.name, 'replica-1', 'the hedge answered');
  t.ok(Date.now() - started < 1_500, `after the delay, not the 2 s headers timeout (${Date.now() - started} ms)`);
  const r0 = set.replicas[0];
  await waitFor(() => r0?.breaker.consecutiveFailures === 1);
  t.equal(r0?.breaker.consecutiveFailures, 1, 'the aborted attempt counts as a slow failure');
  t.equal(r0?.inflight, 0, 'and it was aborted');
  t.equal(set.replicas[1]?.breaker.consecutiveFailures, 0);
});

t.test('a hung node leaves the rotation after a few hedge delays, not three timeouts', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    hedge: { delayMs: 30 }', health: '{ ejectAfterFailures: 3, openMs: 600000 }' });
  nodes.r0.setFault({ kind: 'hang' });
  const started = Date.now();
  for (let i = 0; i < 8 && set.replicas[0]?.healthy; i++) {
    t.equal((await callGroup(set, read(`?i=${i}`), fwd)).status, 200, `read ${i} answered`);
    await new Promise((r) => setTimeout(r, 5)); // let the loser's abort be recorded
  }
  t.notOk(set.replicas[0]?.healthy, 'replica-0 is out of rotation');
  t.ok(Date.now() - started < 3_000, `within ${Date.now() - started} ms (three headers timeouts: 6000 ms)`);
});

t.test('a node that answers every read after the hedge delay leaves the rotation when no hedge can go out', async (t) => {
  const nodes = await startNodes(t);
  // maxExtraPercent 0: the budget refuses every hedge, so no lost race charges replica-0; only its
  // late answers can take it out. Ten of them (minSamples) at a rate of 1 open its breaker.
  const set = makeSet(t, nodes, { extra: '    hedge: { delayMs: 30, maxExtraPercent: 0 }', health: '{ ejectAfterFailures: 3, openMs: 600000 }' });
  nodes.r0.setFault({ kind: 'slow', ms: 90 });
  const r0 = set.replicas[0];
  let reads = 0;
  for (; reads < 60 && r0?.healthy; reads++) {
    const answer = await callGroup(set, read(`?n=${reads}`), fwd);
    if (answer.status !== 200) t.fail(`read ${reads} answered ${answer.status}`);
  }
  t.notOk(r0?.healthy, `replica-0 left the rotation after ${reads} reads`);
  t.equal(nodes.r0.calls.total, 10, 'after ten late answers (minSamples), each a read that was answered');
  t.ok(set.replicas[1]?.healthy && set.primary.healthy, 'the fast nodes stay in');
  // Its late answer to a head probe is no proof that it is back (a fast one would close the breaker).
  const probes = new HeadTracker(set);
  t.teardown(() => probes.stop());
  await probes.pollAll();
  t.notOk(r0?.healthy, 'a late probe answer leaves it out');
  nodes.r0.setFault({ kind: 'none' });
  await probes.pollAll();
  t.ok(r0?.healthy, 'a prompt probe answer puts it back');
});

t.test('late answers never take the last node in rotation out: when every node is late, one stays', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    hedge: { delayMs: 30, maxExtraPercent: 0 }', health: '{ ejectAfterFailures: 3, openMs: 600000 }' });
  for (const n of nodes.all) n.setFault({ kind: 'slow', ms: 50 });
  const inRotation = () => set.all.filter((n) => n.healthy).length;
  for (let i = 0; i < 60; i++) {
    const answer = await callGroup(set, read(`?all=${i}`), fwd);
    if (answer.status !== 200) t.fail(`read ${i} answered ${answer.status}`);
  }
  t.equal(inRotation(), 1, `one node left in rotation (${set.all.map((n) => `${n.name}:${n.healthy}`).join(' ')})`);
  const probes = new HeadTracker(set);
  t.teardown(() => probes.stop());
  await probes.pollAll();
  t.equal(inRotation(), 1, 'its late probe answer does not take it out either');
});

t.test('a node late now and then stays in the rotation', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    hedge: { delayMs: 30, maxExtraPercent: 0 }', health: '{ ejectAfterFailures: 3, openMs: 600000 }' });
  // Every fourth request to replica-0 is late: a quarter of its answers, against errorRate 0.5.
  let n = 0;
  for (let i = 0; i < 40; i++) {
    nodes.r0.setFault(n++ % 4 === 0 ? { kind: 'slow', ms: 60 } : { kind: 'none' });
    const before = nodes.r0.calls.total;
    await callGroup(set, read(`?m=${i}`), fwd);
    if (nodes.r0.calls.total === before) n--; // the read went elsewhere: the next one to replica-0 decides
  }
  t.ok(set.replicas[0]?.healthy, 'replica-0 is still in rotation');
  t.ok(nodes.r0.calls.total >= 15, `it kept its share of the reads (${nodes.r0.calls.total} of 40)`);
});

t.test('a session-bound call is never hedged', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    hedge: { delayMs: 20 }', timeouts: '{ connectMs: 1000, headersMs: 400, bodyMs: 400 }' });
  nodes.r0.setFault({ kind: 'hang' });
  const result = await outcome(callGroup(set, read('', { node: set.replicas[0] }), fwd));
  t.ok(result instanceof UpstreamTimeoutError, `timed out on its node: ${String(result)}`);
  t.same({ primary: nodes.primary.calls.total, r1: nodes.r1.calls.total }, { primary: 0, r1: 0 }, 'no other node was asked');
});

t.test('with hedging off a hung node costs the headers timeout, then the retry answers', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, { extra: '    hedge: { enabled: false }', timeouts: '{ connectMs: 1000, headersMs: 300, bodyMs: 300 }' });
  nodes.r0.setFault({ kind: 'hang' });
  const started = Date.now();
  const answer = await callGroup(set, read(), fwd);
  t.equal(answer.node.name, 'replica-1');
  t.ok(Date.now() - started >= 280, 'after the timeout');
});

t.test('per-class timeouts reach undici: a fast call times out at its class headers timeout', async (t) => {
  const nodes = await startNodes(t);
  const set = makeSet(t, nodes, {
    extra: '    hedge: { enabled: false }',
    retry: '{ attempts: 0 }',
    timeouts: '{ connectMs: 1000, headersMs: 3000, bodyMs: 3000, byClass: { fast: { headersMs: 150 } } }',
  });
  nodes.r0.setFault({ kind: 'hang' });
  const started = Date.now();
  const result = await outcome(callGroup(set, read('', { timeoutClass: 'fast' }), fwd));
  const took = Date.now() - started;
  t.ok(result instanceof UpstreamTimeoutError, String(result));
  t.ok(took >= 140 && took < 2_000, `fast class: ${took} ms, not 3000`);
});
