// HEAD on a cached Aptos GET endpoint is that GET's read (RFC 9110 §9.3.2): the same status and
// headers the GET to the same client would have had — content-length and content-encoding
// included, so a gzip client sees the gzip member's length — and no body. It shares the GET's
// entry and flight: a HEAD after a GET is a hit, a HEAD first fetches the GET upstream (never a
// HEAD, whose bodiless answer could fill nothing) and the GET after it is a hit. JSON-RPC HEAD
// stays pass-through.
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { startAptosNode, APTOS_ACCOUNTS } from '../support/aptos-node.js';
import { request, type Headers, type HttpResponse } from '../support/http-client.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import { startTestProxy } from '../support/proxy-harness.js';

const COIN_STORE = '0x1::coin::CoinStore%3C0x1::aptos_coin::AptosCoin%3E';

/** Three cached GET kinds: a pinned read, the head read without a view, an immutable lookup. */
const ENDPOINTS = [
  { name: 'pinned account resource', path: `/v1/accounts/${APTOS_ACCOUNTS.alice}/resource/${COIN_STORE}?ledger_version=900` },
  { name: 'ledger info', path: '/v1' },
  { name: 'transaction by_version', path: '/v1/transactions/by_version/5' },
] as const;

const CLIENTS = [
  { name: 'plain', headers: {} as Record<string, string> },
  { name: 'gzip', headers: { 'accept-encoding': 'gzip' } as Record<string, string> },
] as const;

/** Headers that differ per exchange whatever the cache did. */
const PER_EXCHANGE = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

function comparable(h: Headers, drop: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(h)) {
    if (v === undefined || PER_EXCHANGE.has(name) || drop.includes(name)) continue;
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

async function setup(t: TapTest) {
  const node = await startAptosNode({ gzip: true });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    cache: { maxStaleness: { ms: 60000 } }
`);
  t.teardown(() => proxy.close());
  node.resetCalls();
  return { node, proxy };
}

function noBody(t: TapTest, head: HttpResponse): void {
  t.equal(head.body.length, 0, 'no body');
}

for (const ep of ENDPOINTS) {
  for (const client of CLIENTS) {
    t.test(`${ep.name}, ${client.name} client: HEAD after GET is a hit with the GET's headers`, async (t) => {
      const { node, proxy } = await setup(t);
      const url = `${proxy.url}${ep.path}`;
      const miss = await request(url, { headers: client.headers });
      t.equal(miss.status, 200);
      const hit = await request(url, { headers: client.headers });
      t.equal(hit.header('x-cache'), 'HIT');
      const head = await request(url, { method: 'HEAD', headers: client.headers });
      t.equal(head.header('x-cache'), 'HIT', 'answered from the GET entry');
      t.equal(node.calls.total, 1, 'no upstream call for the HEAD');
      t.same(comparable(head.headers), comparable(hit.headers), 'exactly the GET hit headers');
      t.equal(head.header('content-length'), String(hit.body.length), 'the length of the GET body this client gets');
      noBody(t, head);
    });

    t.test(`${ep.name}, ${client.name} client: HEAD first fetches the GET once, the GET after it is a hit`, async (t) => {
      const { node, proxy } = await setup(t);
      const url = `${proxy.url}${ep.path}`;
      const head = await request(url, { method: 'HEAD', headers: client.headers });
      t.equal(head.status, 200);
      t.equal(head.header('x-cache'), 'MISS');
      noBody(t, head);
      t.same(node.requests.map((r) => r.method), ['GET'], 'one upstream GET, never a HEAD');
      const get = await request(url, { headers: client.headers });
      t.equal(get.header('x-cache'), 'HIT', 'the HEAD filled the entry');
      t.equal(node.calls.total, 1, 'still one upstream call');
      t.same(comparable(head.headers, ['x-cache']), comparable(get.headers, ['x-cache']), 'same headers as the GET');
      t.equal(head.header('content-length'), String(get.body.length));
    });
  }
}

t.test('gzip and plain clients: each HEAD has the length and encoding of its own GET', async (t) => {
  const { proxy } = await setup(t);
  const url = `${proxy.url}/v1/transactions/by_version/5`;
  const gzip = { 'accept-encoding': 'gzip' };
  const zipped = await request(url, { headers: gzip });
  const plain = await request(url);
  t.equal(zipped.header('content-encoding'), 'gzip', 'the entry is stored compressed (else this test shows nothing)');
  t.not(zipped.body.length, plain.body.length);
  const headZipped = await request(url, { method: 'HEAD', headers: gzip });
  const headPlain = await request(url, { method: 'HEAD' });
  t.equal(headZipped.header('content-encoding'), 'gzip');
  t.equal(headZipped.header('content-length'), String(zipped.body.length));
  t.equal(headPlain.header('content-encoding'), undefined);
  t.equal(headPlain.header('content-length'), String(plain.body.length));
  t.equal(headZipped.header('vary'), 'accept-encoding');
  t.equal(headPlain.header('vary'), 'accept-encoding');
});

t.test('concurrent HEADs and GETs on a cold key share one upstream GET', async (t) => {
  const node = await startAptosNode({ latencyMs: 100 });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  node.resetCalls();
  const url = `${proxy.url}/v1/transactions/by_version/7`;
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => request(url, { method: i % 2 === 0 ? 'HEAD' : 'GET' })));
  t.same(node.requests.map((r) => r.method), ['GET'], 'one upstream GET for all of them');
  t.same(new Set(answers.map((a) => a.status)), new Set([200]));
  const lengths = new Set(answers.map((a) => a.header('content-length')));
  t.equal(lengths.size, 1, 'every HEAD announces the GET length');
  t.equal(answers.filter((a) => a.body.length === 0).length, 10, 'the HEADs have no body');
});

t.test("the node's own HEAD and GET agree with the proxy's on status and content type", async (t) => {
  const { node, proxy } = await setup(t);
  for (const ep of ENDPOINTS) {
    const nodeGet = await request(`${node.url}${ep.path}`);
    const nodeHead = await request(`${node.url}${ep.path}`, { method: 'HEAD' });
    const proxyHead = await request(`${proxy.url}${ep.path}`, { method: 'HEAD' });
    t.equal(proxyHead.status, nodeHead.status, `${ep.name}: status`);
    t.equal(proxyHead.status, nodeGet.status, `${ep.name}: status of the GET`);
    t.equal(proxyHead.header('content-type'), nodeHead.header('content-type'), `${ep.name}: content type`);
    t.equal(proxyHead.header('content-length'), String(nodeGet.body.length), `${ep.name}: the identity GET length`);
  }
  // A pinned read the node does not have: the HEAD carries the GET's error status, uncached.
  const missing = `/v1/transactions/by_version/999999999`;
  const nodeHead = await request(`${node.url}${missing}`, { method: 'HEAD' });
  const proxyHead = await request(`${proxy.url}${missing}`, { method: 'HEAD' });
  const proxyGet = await request(`${proxy.url}${missing}`);
  t.equal(proxyHead.status, nodeHead.status, 'error status as the node says');
  t.equal(proxyHead.status, proxyGet.status);
  t.equal(proxyHead.header('content-length'), String(proxyGet.body.length));
  noBody(t, proxyHead);
});

t.test('JSON-RPC: HEAD stays a pass-through', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  evm: { dialect: evm-jsonrpc, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /rpc }
    upstream: evm
    stripPrefix: true
`);
  t.teardown(() => proxy.close());
  node.resetCalls();
  const head = await request(`${proxy.url}/rpc`, { method: 'HEAD' });
  t.equal(head.header('x-cache'), 'BYPASS', 'not planned as a read');
  t.equal(node.calls.total, 1, 'the node answered it');
  noBody(t, head);
});
