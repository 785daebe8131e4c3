// A lagging or stuck replica leaves the read rotation; a pinned read goes only to a node that has
// the version; a pruned replica's 410 is not served when another node has the data.
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { startAptosNode, APTOS_ACCOUNTS, type AptosNodeHandle } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

async function setup(t: TapTest, lag: string) {
  const nodes = await Promise.all([startAptosNode(), startAptosNode(), startAptosNode()]);
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [primary, r0, r1] = nodes as [AptosNodeHandle, AptosNodeHandle, AptosNodeHandle];
  const proxy = await startTestProxy(`
upstreams:
  aptos:
    dialect: aptos-rest
    primary: ${primary.url}
    replicas: [${r0.url}, ${r1.url}]
    lag: ${lag}
    head: { pollIntervalMs: 60000 }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    cache: { enabled: false }
`, { waitForHeads: false });
  t.teardown(() => proxy.close());
  return { proxy, primary, r0, r1, poll: () => proxy.state.runtime.groups.get('aptos')!.heads.pollAll() };
}

const resources = (v?: number) => `/v1/accounts/${APTOS_ACCOUNTS.alice}/resources${v === undefined ? '' : `?ledger_version=${v}`}`;

t.test('a replica more than maxLag behind leaves the rotation until it catches up', async (t) => {
  const { proxy, primary, r0, r1, poll } = await setup(t, '{ maxLag: 8 }');
  r0.setFault({ kind: 'none', lagBy: 5 });
  primary.advance(5); r0.advance(5); r1.advance(5);
  await poll();
  for (const n of [primary, r0, r1]) n.resetCalls();
  for (let i = 0; i < 10; i++) t.equal((await request(`${proxy.url}${resources()}?x=${i}`)).status, 200);
  t.equal(r0.calls.total, 0, 'the lagging replica got no reads');
  t.equal(r1.calls.total, 10);
  r0.setFault({ kind: 'none' });
  await poll();
  for (const n of [primary, r0, r1]) n.resetCalls();
  for (let i = 0; i < 10; i++) await request(`${proxy.url}${resources()}?y=${i}`);
  t.ok(r0.calls.total >= 4, 'back in rotation once caught up');
});

t.test('a pinned read only goes to a node that has the version', async (t) => {
  const { proxy, primary, r0, r1, poll } = await setup(t, '{ maxLag: 1000000 }');
  r0.setFault({ kind: 'none', lagBy: 3 });
  primary.advance(3); r0.advance(3); r1.advance(3);
  await poll();
  const top = r1.ledger.reportedVersion;
  for (const n of [primary, r0, r1]) n.resetCalls();
  for (let i = 0; i < 6; i++) {
    const res = await request(`${proxy.url}${resources(top)}`);
    t.equal(res.status, 200, 'never the lagging node\'s 404');
  }
  t.equal(r0.calls.total, 0);
});

t.test('a pruned replica\'s 410 is not served when another node has the data', async (t) => {
  const { proxy, primary, r0, r1, poll } = await setup(t, '{ maxLag: 1000000 }');
  await poll();
  r0.setFault({ kind: 'none', prunedBelow: 500 });
  const direct = await request(`${primary.url}${resources(100)}`);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await request(`${proxy.url}${resources(100)}`);
    statuses.push(res.status);
    t.equal(res.text(), direct.text());
  }
  t.same([...new Set(statuses)], [200]);
  void r1;
});
