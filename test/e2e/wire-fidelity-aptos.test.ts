// Issue 10, Aptos side: for each defect, the node's direct answer and the proxy's answer to the
// same request are the same (status, the headers that matter, body bytes). Real HTTP to the
// spec-faithful mock node, through a real proxy; misbehaviour comes from the scripted node.
import { gzipSync } from 'node:zlib';
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { APT_COIN_STORE, APTOS_ACCOUNTS, APTOS_COIN, BALANCE_VIEW_FUNCTION, startAptosNode } from '../support/aptos-node.js';
import { request, type HttpResponse, type RequestOptions } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { htmlMaintenancePage, startScriptedNode, withSetCookie } from '../support/scripted-node.js';

async function setup(t: TapTest, scripted = false) {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const front = scripted ? await startScriptedNode(node.url) : undefined;
  if (front) t.teardown(() => front.close());
  const upstream = front?.url ?? node.url;
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${upstream}, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 }, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  return { node, front, proxy, direct: upstream };
}

/** The same request to the node and through the proxy; the parts of the answer that matter. */
async function both(direct: string, proxy: string, path: string, opts: RequestOptions = {}): Promise<[HttpResponse, HttpResponse]> {
  const d = await request(`${direct}${path}`, opts);
  const p = await request(`${proxy}${path}`, opts);
  return [d, p];
}

function sameAnswer(t: TapTest, d: HttpResponse, p: HttpResponse, what: string): void {
  t.equal(p.status, d.status, `${what}: status`);
  t.equal(p.header('content-type'), d.header('content-type'), `${what}: content-type`);
  t.ok(p.body.equals(d.body), `${what}: body bytes (${p.body.length} vs ${d.body.length})`);
}

const RESOURCE = `/v1/accounts/${APTOS_ACCOUNTS.alice}/resource/${APT_COIN_STORE}?ledger_version=900`;

t.test('defect 1: Accept is negotiated as the node does (q-values, order), keyed by the choice', async (t) => {
  const { proxy, direct } = await setup(t);
  // A pure-BCS client first: its entry must not be served to the mixed clients below.
  const [dBcs, pBcs] = await both(direct, proxy.url, RESOURCE, { headers: { accept: 'application/x-bcs' } });
  sameAnswer(t, dBcs, pBcs, 'pure BCS');
  t.equal(dBcs.header('content-type'), 'application/x-bcs');
  for (const accept of ['application/json, application/x-bcs', 'application/x-bcs;q=0', 'application/x-bcs;q=0.5, application/json', '*/*', 'text/html']) {
    const [d, p] = await both(direct, proxy.url, RESOURCE, { headers: { accept } });
    sameAnswer(t, d, p, `Accept: ${accept}`);
    t.match(p.header('content-type'), /json/, `${accept}: JSON, as the node chose`);
  }
  const [d, p] = await both(direct, proxy.url, RESOURCE, { headers: { accept: 'application/json;q=0.1, application/x-bcs' } });
  sameAnswer(t, d, p, 'BCS preferred by q-value');
  t.equal(p.header('x-cache'), 'HIT', 'shares the pure-BCS entry: same representation');
});

t.test('defect 2: a 200 text/html maintenance page is an upstream fault, never an entry', async (t) => {
  const { node, front, proxy } = await setup(t, true);
  const path = '/v1/transactions/by_version/5';
  front?.script(htmlMaintenancePage);
  const during = await request(`${proxy.url}${path}`);
  t.equal(during.status, 502, 'no node gave a real answer (one node: no other to ask)');
  t.match(during.json(), { error_code: 'upstream_bad_response', vm_error_code: null });
  const [d, p] = await both(node.url, proxy.url, path);
  sameAnswer(t, d, p, 'after the maintenance');
  t.equal(p.header('x-cache'), 'MISS', 'the page was not stored');
  // A JSON body of the wrong shape, and BCS asked but JSON sent, are faults too.
  front?.script(async (_r, target) => ({ ...(await target()), body: Buffer.from('"just a string"') }));
  t.equal((await request(`${proxy.url}/v1/transactions/by_version/6`)).status, 502, 'a JSON scalar where an object is due');
  front?.script(async (_r, target) => ({ ...(await target()), headers: { 'content-type': 'application/json' } }));
  t.equal((await request(`${proxy.url}${RESOURCE}`, { headers: { accept: 'application/x-bcs' } })).status, 502, 'BCS asked, JSON content type answered');
  const [d2, p2] = await both(node.url, proxy.url, RESOURCE, { headers: { accept: 'application/x-bcs' } });
  sameAnswer(t, d2, p2, 'BCS after the fault');
  const metrics = await request(`${proxy.adminUrl}/metrics`);
  t.match(metrics.text(), /ledgerproxy_upstream_errors_total\{[^}]*code="upstream_bad_response"[^}]*\} [1-9]/, 'counted');
});

t.test('item 8: a POST body sent with Content-Encoding: gzip is forwarded with it (and keyed by it)', async (t) => {
  const { proxy, direct } = await setup(t);
  const view = JSON.stringify({ function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [APTOS_ACCOUNTS.alice] });
  const gz = gzipSync(view);
  const opts = { method: 'POST', body: gz, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } };
  const [d, p] = await both(direct, proxy.url, '/v1/view?ledger_version=900', opts);
  t.equal(d.status, 200, 'the node decodes the body');
  sameAnswer(t, d, p, 'gzip body');
  // The same bytes without the header are another request (the node refuses them): another key.
  const plain = { method: 'POST', body: gz, headers: { 'content-type': 'application/json' } };
  const [d2, p2] = await both(direct, proxy.url, '/v1/view?ledger_version=900', plain);
  t.equal(d2.status, 400);
  sameAnswer(t, d2, p2, 'gzip bytes without Content-Encoding');
});

t.test("item 8: a leader's Set-Cookie never reaches a coalesced follower", async (t) => {
  const { front, proxy } = await setup(t, true);
  front?.always(withSetCookie(150));
  const before = front?.received.length ?? 0;
  const answers = await Promise.all([0, 1, 2].map(() => request(`${proxy.url}${RESOURCE}`)));
  const cookies = answers.map((a) => a.header('set-cookie'));
  t.equal(new Set(cookies).size, 3, `each client got its own cookie: ${cookies.join(' | ')}`);
  t.equal((front?.received.length ?? 0) - before, 3, 'each made its own upstream call');
  t.ok(answers.every((a) => a.status === 200));
});
