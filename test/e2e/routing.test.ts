// Issue 2's acceptance: reads spread over replicas, writes to the primary only, a dead replica
// costs no client request.
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { startAptosNode, APTOS_ACCOUNTS, type AptosNodeHandle } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

async function threeNodes(t: TapTest) {
  const nodes = await Promise.all([startAptosNode(), startAptosNode(), startAptosNode()]);
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, r0, r1] = nodes as [AptosNodeHandle, AptosNodeHandle, AptosNodeHandle];
  const proxy = await startTestProxy(`
upstreams:
  aptos:
    dialect: aptos-rest
    primary: ${primary.url}
    replicas: [${r0.url}, ${r1.url}]
    health: { ejectAfterFailures: 2, probeIntervalMs: 200 }
    head: { pollIntervalMs: 60000 }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    cache: { enabled: false }
`);
  t.teardown(() => proxy.close());
  for (const n of nodes) n.resetCalls();
  return { proxy, primary, r0, r1 };
}

t.test('30 reads land 15/15 on the replicas and none on the primary', async (t) => {
  const { proxy, primary, r0, r1 } = await threeNodes(t);
  for (let i = 0; i < 30; i++) {
    const res = await request(`${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources?x=${i}`);
    t.equal(res.status, 200);
  }
  t.equal(primary.calls.total, 0, 'primary got no reads');
  t.ok(Math.abs(r0.calls.total - 15) <= 1, `replica-0 got ${r0.calls.total}`);
  t.ok(Math.abs(r1.calls.total - 15) <= 1, `replica-1 got ${r1.calls.total}`);
});

t.test('5 writes land on the primary only', async (t) => {
  const { proxy, primary, r0, r1 } = await threeNodes(t);
  for (let i = 0; i < 5; i++) {
    const res = await request(`${proxy.url}/v1/transactions`, { method: 'POST', body: { sender: APTOS_ACCOUNTS.alice, sequence_number: String(i), payload: {} } });
    t.equal(res.status, 202);
  }
  // Each write also starts a burst of head polls (GET /v1) on every node: those are not writes.
  const submits = (n: typeof primary) => n.calls.byPath.get('/v1/transactions') ?? 0;
  t.equal(submits(primary), 5);
  t.equal(submits(r0) + submits(r1), 0);
});

t.test('killing a replica moves reads to the other with no failed request', async (t) => {
  const { proxy, primary, r0, r1 } = await threeNodes(t);
  await r0.kill();
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    statuses.push((await request(`${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources?y=${i}`)).status);
  }
  t.same(new Set(statuses), new Set([200]), 'every request succeeded');
  t.equal(r1.calls.total, 30, 'all reads reached the live replica');
  t.equal(primary.calls.total, 0);
});

t.test('X-Read-Consistency: strong reads from the primary and is not forwarded', async (t) => {
  const { proxy, primary, r0, r1 } = await threeNodes(t);
  const res = await request(`${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}`, { headers: { 'x-read-consistency': 'strong' } });
  t.equal(res.status, 200);
  t.equal(primary.calls.total, 1);
  t.equal(r0.calls.total + r1.calls.total, 0);
  t.equal(primary.requests[0]?.headers['x-read-consistency'], undefined);
});
