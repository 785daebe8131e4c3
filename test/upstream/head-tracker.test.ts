// The head poll against real mock nodes of each dialect kind (REST and JSON-RPC).
import t, { type Test } from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import type { DialectName } from '../../src/dialects/types.js';
import { dialectFor } from '../../src/dialects/index.js';
import { HeadTracker } from '../../src/upstream/head-tracker.js';
import type { UpstreamNode } from '../../src/upstream/node.js';
import { ReplicaSet } from '../../src/upstream/replica-set.js';
import { startAptosNode, type AptosNodeHandle } from '../support/aptos-node.js';
import { startJsonRpcNode, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import type { FaultableNode } from '../support/node-faults.js';

function tracked(t: Test, dialect: DialectName, primary: FaultableNode, replicas: FaultableNode[], extra = '') {
  const yaml = `
upstreams:
  g:
    dialect: ${dialect}
    primary: ${primary.url}
    replicas: [${replicas.map((r) => r.url).join(', ')}]
    timeouts: { connectMs: 500, headersMs: 1000, bodyMs: 1000 }
${extra || '    health: { ejectAfterFailures: 2, openMs: 600000, probeIntervalMs: 50 }\n    head: { pollIntervalMs: 60000 }'}
routes:
  - match: { pathPrefix: / }
    upstream: g
`;
  const cfg = parseConfigText(yaml, 'head-tracker-test').upstreams['g'];
  if (!cfg) throw new Error('no group');
  const set = new ReplicaSet('g', cfg, dialectFor(dialect));
  const heads = new HeadTracker(set);
  t.teardown(async () => {
    heads.stop();
    await set.close();
  });
  return { set, heads };
}

async function until(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('aptos-rest: a poll learns each node head from GET /v1', async (t) => {
  const nodes = await Promise.all([startAptosNode({ version: 5_000 }), startAptosNode({ version: 5_000 })]);
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, replica] = nodes as [AptosNodeHandle, AptosNodeHandle];
  replica.setFault({ kind: 'none', lagBy: 3 });
  const { set, heads } = tracked(t, 'aptos-rest', primary, [replica]);
  await heads.pollAll();
  t.equal(set.primary.head, BigInt(primary.ledger.reportedVersion));
  t.equal(set.replicas[0]?.head, BigInt(replica.ledger.reportedVersion));
  t.ok((set.replicas[0]?.head ?? 0n) < (set.primary.head ?? 0n), 'the lagging replica reports a lower head');
  t.equal(set.head, BigInt(primary.ledger.reportedVersion), 'the group head is the highest');
  t.equal(primary.requests[0]?.path, '/v1', 'the light request');
  t.match(String(primary.requests[0]?.headers['x-request-id']), /^probe-/);
});

t.test('evm-jsonrpc: a poll learns each node head from eth_blockNumber', async (t) => {
  const nodes = await Promise.all([startJsonRpcNode({ flavor: 'evm', head: 321 }), startJsonRpcNode({ flavor: 'evm', head: 300 })]);
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, replica] = nodes as [JsonRpcNodeHandle, JsonRpcNodeHandle];
  const { set, heads } = tracked(t, 'evm-jsonrpc', primary, [replica]);
  await heads.pollAll();
  t.equal(set.primary.head, 321n);
  t.equal(set.replicas[0]?.head, 300n);
  t.equal(primary.calls.byMethod.get('eth_blockNumber'), 1);
});

t.test('neo-jsonrpc: a poll learns the head as getblockcount - 1', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'neo', head: 1_000 });
  t.teardown(() => node.close());
  const { set, heads } = tracked(t, 'neo-jsonrpc', node, []);
  await heads.pollAll();
  t.equal(set.primary.head, 1_000n);
  t.equal(node.calls.byMethod.get('getblockcount'), 1);
});

t.test('started, the tracker follows a moving head', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm', head: 10 });
  t.teardown(() => node.close());
  const { set, heads } = tracked(t, 'evm-jsonrpc', node, [], '    head: { pollIntervalMs: 50 }\n    health: { probeIntervalMs: 50 }');
  heads.start();
  await until(() => set.primary.head === 10n, 'first head');
  node.advance(5);
  await until(() => set.primary.head === 15n, 'head 15');
  t.equal(set.primary.head, 15n);
});

t.test('failed polls take a node out of rotation; other nodes are not affected', async (t) => {
  const nodes = await Promise.all([startAptosNode(), startAptosNode()]);
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, replica] = nodes as [AptosNodeHandle, AptosNodeHandle];
  const { set, heads } = tracked(t, 'aptos-rest', primary, [replica]);
  await replica.kill();
  await heads.pollAll();
  t.equal(set.replicas[0]?.healthy, true, 'one failure of two');
  t.equal(set.replicas[0]?.breaker.consecutiveFailures, 1);
  await heads.pollAll();
  t.equal(set.replicas[0]?.healthy, false, 'out after ejectAfterFailures');
  t.equal(set.primary.healthy, true);
  t.equal(set.primary.breaker.consecutiveFailures, 0);
});

t.test('answers that are not a head count as failures (503, garbage, 404)', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const { set, heads } = tracked(t, 'evm-jsonrpc', node, [], '    health: { ejectAfterFailures: 3, openMs: 600000, probeIntervalMs: 50 }\n    head: { pollIntervalMs: 60000 }');
  const primary = set.primary;
  node.setFault({ kind: 'status', status: 503 });
  await heads.pollAll();
  node.setFault({ kind: 'garbage' });
  await heads.pollAll();
  t.equal(primary.breaker.consecutiveFailures, 2);
  t.equal(primary.head, undefined, 'nothing learned');
  node.setFault({ kind: 'status', status: 404 });
  await heads.pollAll();
  t.equal(primary.healthy, false, 'three failures: out');
});

t.test('the probe puts a restarted node back in rotation', async (t) => {
  const nodes = await Promise.all([startAptosNode(), startAptosNode()]);
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, replica] = nodes as [AptosNodeHandle, AptosNodeHandle];
  const { set, heads } = tracked(t, 'aptos-rest', primary, [replica]);
  await heads.pollAll();
  await replica.kill();
  await heads.pollAll();
  await heads.pollAll();
  const r0 = set.replicas[0] as UpstreamNode;
  t.equal(r0.healthy, false, 'ejected');
  heads.start();
  await pause(120);
  t.equal(r0.healthy, false, 'still out while the node is down (openMs is long)');
  replica.advance(2);
  await replica.restart();
  await until(() => r0.healthy, 'replica back in rotation');
  t.equal(r0.breaker.state(Date.now()), 'closed');
  t.equal(r0.head, BigInt(replica.ledger.reportedVersion), 'and its new head is known');
});

t.test('one poll per node at a time', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm', latencyMs: 50 });
  t.teardown(() => node.close());
  const { heads } = tracked(t, 'evm-jsonrpc', node, []);
  await Promise.all([heads.pollAll(), heads.pollAll(), heads.pollAll()]);
  t.equal(node.calls.total, 1, 'callers arriving meanwhile share the running poll');
});

t.test('stop() leaves no timer: no poll happens afterwards', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const { heads } = tracked(t, 'evm-jsonrpc', node, [], '    head: { pollIntervalMs: 50 }\n    health: { probeIntervalMs: 50 }');
  heads.start();
  await until(() => node.calls.total >= 2, 'the interval polls');
  heads.stop();
  await heads.pollAll(); // a stopped tracker only waits for a poll that was already running
  const after = node.calls.total;
  await pause(250);
  t.equal(node.calls.total, after, 'no poll after stop()');
  await heads.pollAll();
  t.equal(node.calls.total, after, 'a stopped tracker does not poll on request either');
});

t.test('a poll that fails after stop() does not count against the node', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const { set, heads } = tracked(t, 'evm-jsonrpc', node, [], '    health: { ejectAfterFailures: 1, openMs: 600000 }');
  node.setFault({ kind: 'hang' });
  const polling = heads.pollAll();
  await until(() => node.calls.total === 1, 'the poll reached the node');
  heads.stop();
  await node.kill(); // the parked poll fails now
  await polling;
  t.equal(set.primary.breaker.consecutiveFailures, 0);
  t.equal(set.primary.healthy, true);
});

t.test('the polled head is authoritative even when it goes back; a head seen in passing only moves forward', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm', head: 200 });
  t.teardown(() => node.close());
  const { set, heads } = tracked(t, 'evm-jsonrpc', node, []);
  await heads.pollAll();
  t.equal(set.primary.head, 200n);
  node.setFault({ kind: 'none', lagBy: 5 }); // the node now reports 195 (resynced / replaced)
  await heads.pollAll();
  t.equal(set.primary.head, 195n, 'latest reads must not stay pinned to a block the node no longer has');
  set.primary.noteHead(190n, Date.now());
  t.equal(set.primary.head, 195n, 'an older head from a response header does not move it back');
});

t.test('pollAfter: a poll sent before the caller saw its answer is followed by a new one; one sent after is joined', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'neo', head: 1000, latencyMs: 150 });
  t.teardown(() => node.close());
  const { set, heads } = tracked(t, 'neo-jsonrpc', node, []);
  const upstream = set.all[0]!;
  const running = heads.pollAll(); // sent now, answered ~150 ms later with the head before the advance
  await until(() => node.calls.byMethod.get('getblockcount') === 1, 'the first poll reached the node');
  node.advance();
  // The node has the new block; a caller that saw it must not settle for the running poll's answer.
  await heads.pollAfter(upstream, performance.now());
  await running;
  t.equal(node.calls.byMethod.get('getblockcount'), 2, 'a second poll, sent after the first answered');
  t.equal(upstream.head, 1001n, 'the head the node has now');
  // Two answers seen at the same moment (one batch) share one poll.
  const seenAt = performance.now();
  await Promise.all([heads.pollAfter(upstream, seenAt), heads.pollAfter(upstream, seenAt)]);
  t.equal(node.calls.byMethod.get('getblockcount'), 3);
});

t.test('a write during a burst: the burst lasts until the head passes where it was at that write', async (t) => {
  // Seen with neon-js (e2e/neon-js-flows): write 1 starts a burst from head 10; block 11 is learnt
  // in passing before the burst's next poll; write 2 comes while the burst still runs; its block (12)
  // was never polled for, because the burst ended on 11 > 10.
  const node = await startJsonRpcNode({ flavor: 'evm', head: 10 });
  t.teardown(() => node.close());
  const { set, heads } = tracked(t, 'evm-jsonrpc', node, []);
  await heads.pollAll();
  t.equal(set.head, 10n);
  heads.afterWrite(); // write 1: polls now, then every 100 ms (pollIntervalMs 60000)
  const polls = (): number => node.calls.byMethod.get('eth_blockNumber') ?? 0;
  const atWrite1 = polls();
  await until(() => polls() > atWrite1, 'the burst polled once');
  node.advance(); // block 11, learnt from an answer header, not from the burst
  set.primary.noteHead(11n, Date.now());
  heads.afterWrite(); // write 2, while the burst's next step is pending
  const atWrite2 = polls();
  // The burst's next poll sees 11: past 10 (write 1's head), not past 11 (write 2's).
  await until(() => polls() > atWrite2, 'the burst polled after write 2');
  node.advance(); // block 12: write 2's transaction mined
  await until(() => set.head === 12n, 'head 12 seen by the burst', 3_000);
  t.equal(set.head, 12n, 'the burst went on polling after the second write');
});
