// The heart of the product on Aptos REST: pinned reads are cached for good, latest reads are keyed
// by the head, a cold herd costs one upstream call, gzip bytes are stored once and served as-is.
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { startAptosNode, APTOS_ACCOUNTS, BALANCE_VIEW_FUNCTION, APTOS_COIN } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

const viewBody = { function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [APTOS_ACCOUNTS.alice] };

async function setup(t: TapTest, nodeOpts: Parameters<typeof startAptosNode>[0] = {}, cache = '') {
  const node = await startAptosNode(nodeOpts);
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
${cache}
`);
  t.teardown(() => proxy.close());
  node.resetCalls();
  return { node, proxy };
}

t.test('a herd of 200 identical cold pinned view calls costs one upstream call', async (t) => {
  const { node, proxy } = await setup(t, { latencyMs: 50 });
  const responses = await Promise.all(
    Array.from({ length: 200 }, () => request(`${proxy.url}/v1/view?ledger_version=900`, { method: 'POST', body: viewBody })),
  );
  t.equal(node.calls.total, 1, 'exactly one upstream call');
  const bodies = new Set(responses.map((r) => r.text()));
  t.equal(bodies.size, 1, 'every client got the same answer');
  t.same(new Set(responses.map((r) => r.status)), new Set([200]));
  const labels = responses.map((r) => r.header('x-cache'));
  t.equal(labels.filter((l) => l === 'MISS').length, 1, 'one leader');
  t.equal(labels.filter((l) => l === 'COALESCED').length + labels.filter((l) => l === 'HIT').length, 199);
  const again = await request(`${proxy.url}/v1/view?ledger_version=900`, { method: 'POST', body: viewBody });
  t.equal(again.header('x-cache'), 'HIT');
  t.equal(again.text(), responses[0]?.text());
  t.equal(again.header('x-aptos-ledger-version'), responses[0]?.header('x-aptos-ledger-version'), 'X-Aptos-* kept on hits');
  t.equal(node.calls.total, 1);
});

t.test('pinned reads at different versions never share an entry', async (t) => {
  const { node, proxy } = await setup(t);
  const a = await request(`${proxy.url}/v1/view?ledger_version=500`, { method: 'POST', body: viewBody });
  const b = await request(`${proxy.url}/v1/view?ledger_version=600`, { method: 'POST', body: viewBody });
  t.not(a.text(), b.text());
  const direct = await request(`${node.url}/v1/view?ledger_version=600`, { method: 'POST', body: viewBody });
  t.equal(b.text(), direct.text(), 'the proxy answer is what the node says');
});

t.test('a latest read is forwarded pinned to the head and shares the pinned entry', async (t) => {
  const { node, proxy } = await setup(t);
  const head = node.ledger.version;
  const latest = await request(`${proxy.url}/v1/view`, { method: 'POST', body: viewBody });
  t.equal(latest.header('x-cache'), 'MISS');
  t.match(node.requests[0]?.query ?? '', new RegExp(`ledger_version=${head}`), 'sent pinned to the head');
  const pinned = await request(`${proxy.url}/v1/view?ledger_version=${head}`, { method: 'POST', body: viewBody });
  t.equal(pinned.header('x-cache'), 'HIT');
  t.equal(pinned.text(), latest.text());
  t.equal(node.calls.total, 1);
});

t.test('gzip: stored compressed once, served as stored bytes or identity', async (t) => {
  const { proxy } = await setup(t);
  const url = `${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources?ledger_version=800`;
  const plain = await request(url);
  const zipped = await request(url, { headers: { 'accept-encoding': 'gzip' } });
  const zipped2 = await request(url, { headers: { 'accept-encoding': 'gzip, br' } });
  t.equal(zipped.header('content-encoding'), 'gzip');
  t.equal(gunzipSync(zipped.body).toString(), plain.text(), 'same content');
  t.ok(zipped.body.length < plain.body.length, 'compressed is smaller');
  t.same(zipped2.body, zipped.body, 'the same stored bytes each time');
  const refused = await request(url, { headers: { 'accept-encoding': 'gzip;q=0' } });
  t.equal(refused.header('content-encoding'), undefined);
  t.equal(refused.text(), plain.text());
});

t.test('never cached: errors, pending transactions, not-found hashes', async (t) => {
  const { node, proxy } = await setup(t);
  const missing = await request(`${proxy.url}/v1/view?ledger_version=999999999`, { method: 'POST', body: viewBody });
  t.equal(missing.status, 404);
  await request(`${proxy.url}/v1/view?ledger_version=999999999`, { method: 'POST', body: viewBody });
  t.equal(node.calls.total, 2, '404s are not cached');
  const submit = await request(`${proxy.url}/v1/transactions`, { method: 'POST', body: { sender: APTOS_ACCOUNTS.alice, sequence_number: '1', payload: {} } });
  t.equal(submit.status, 202);
  const hash = submit.json<{ hash: string }>().hash;
  const pending = await request(`${proxy.url}/v1/transactions/by_hash/${hash}`);
  t.equal(pending.json<{ type: string }>().type, 'pending_transaction');
  node.advance();
  const committed = await request(`${proxy.url}/v1/transactions/by_hash/${hash}`);
  t.equal(committed.json<{ type: string }>().type, 'user_transaction', 'pending answer was not cached');
  const again = await request(`${proxy.url}/v1/transactions/by_hash/${hash}`);
  t.equal(again.header('x-cache'), 'HIT', 'committed answer is cached');
});

t.test('unknown query params neither bust nor poison the cache', async (t) => {
  const { node, proxy } = await setup(t);
  const base = `${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources?ledger_version=700`;
  await request(base);
  const noisy = await request(`${base}&_=12345&cb=${Math.random()}`);
  t.equal(noisy.header('x-cache'), 'HIT');
  t.equal(node.calls.total, 1);
});

t.test('the hit shortcut answers only byte-identical pinned reads, and never a latest read', async (t) => {
  const { node, proxy } = await setup(t, {}, '    cache: { maxStaleness: { ms: 0 } }');
  const url = `${proxy.url}/v1/view?ledger_version=910`;
  const json = await request(url, { method: 'POST', body: viewBody });
  t.equal((await request(url, { method: 'POST', body: viewBody })).header('x-cache'), 'HIT');
  const bcs = await request(url, { method: 'POST', body: viewBody, headers: { accept: 'application/x-bcs' } });
  t.equal(bcs.header('x-cache'), 'MISS', 'another Accept is another answer');
  t.not(bcs.header('content-type'), json.header('content-type'));
  const other = { ...viewBody, arguments: [APTOS_ACCOUNTS.bob] };
  t.equal((await request(url, { method: 'POST', body: other })).header('x-cache'), 'MISS', 'another body is another answer');
  await request(`${proxy.adminUrl}/admin/purge?all=true`, { method: 'POST' });
  t.equal((await request(url, { method: 'POST', body: viewBody })).header('x-cache'), 'MISS', 'a purged entry is not served');
  const latest = await request(`${proxy.url}/v1/view`, { method: 'POST', body: viewBody });
  node.advance(1);
  await proxy.state.runtime.groups.get('aptos')?.heads.pollAll();
  const later = await request(`${proxy.url}/v1/view`, { method: 'POST', body: viewBody });
  t.not(later.text(), latest.text(), 'a latest read follows the head');
});
