// Stale-if-error and stale-while-revalidate: bounded, opt-in per route, marked X-Cache: STALE.
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { startAptosNode, APTOS_ACCOUNTS, BALANCE_VIEW_FUNCTION, APTOS_COIN } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

const viewBody = { function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [APTOS_ACCOUNTS.alice] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(t: TapTest, cache: string) {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, retry: { attempts: 0 }, health: { ejectAfterFailures: 100 }, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    cache: ${cache}
`);
  t.teardown(() => proxy.close());
  return { node, proxy, poll: () => proxy.state.runtime.groups.get('aptos')!.heads.pollAll() };
}

t.test('stale-if-error: an expired answer is served, marked STALE, only while the bound lasts', async (t) => {
  // The stale bound is long beside the sleeps: the STALE read must land inside it even when a
  // loaded machine delays it by hundreds of ms.
  const { node, proxy } = await setup(t, '{ ttlMs: { immutable: 100 }, staleIfErrorMs: 1500 }');
  const url = `${proxy.url}/v1/view?ledger_version=50`;
  const fresh = await request(url, { method: 'POST', body: viewBody });
  t.equal(fresh.header('x-cache'), 'MISS');
  await sleep(150);
  node.setFault({ kind: 'status', status: 503 });
  const stale = await request(url, { method: 'POST', body: viewBody });
  t.equal(stale.status, 200);
  t.equal(stale.header('x-cache'), 'STALE');
  t.equal(stale.text(), fresh.text());
  await sleep(1500);
  const gone = await request(url, { method: 'POST', body: viewBody });
  t.equal(gone.status, 503, 'past the bound the failure is the answer');
});

t.test('stale-if-error is off by default', async (t) => {
  const { node, proxy } = await setup(t, '{ ttlMs: { immutable: 100 } }');
  const url = `${proxy.url}/v1/view?ledger_version=51`;
  await request(url, { method: 'POST', body: viewBody });
  await sleep(150);
  node.setFault({ kind: 'status', status: 503 });
  t.equal((await request(url, { method: 'POST', body: viewBody })).status, 503);
});

t.test('stale-while-revalidate: the previous head\'s answer is served while one refresh runs', async (t) => {
  const { node, proxy, poll } = await setup(t, '{ maxStaleness: { ms: 0 }, staleWhileRevalidateMs: 5000 }');
  const url = `${proxy.url}/v1/view`;
  const first = await request(url, { method: 'POST', body: viewBody });
  t.equal(first.header('x-cache'), 'MISS');
  node.advance(2);
  await poll();
  // The refresh takes 1 s: long beside what a loaded machine adds to a STALE answer.
  node.setFault({ kind: 'slow', ms: 1000 });
  node.resetCalls();
  const started = Date.now();
  const stale = await request(url, { method: 'POST', body: viewBody });
  t.equal(stale.header('x-cache'), 'STALE');
  t.equal(stale.text(), first.text(), 'the previous head\'s answer');
  const took = Date.now() - started;
  t.ok(took < 700, `answered without waiting for the node's 1000 ms (${took} ms)`);
  await sleep(1300);
  t.equal(node.calls.total, 1, 'one background refresh');
  const refreshed = await request(url, { method: 'POST', body: viewBody });
  t.equal(refreshed.header('x-cache'), 'HIT', 'the refresh filled the new head\'s entry');
  t.not(refreshed.text(), first.text(), 'and it is the new head\'s answer');
});
