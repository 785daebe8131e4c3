// Monotonic reads (opt-in per route): a client that has seen version V is never answered for an
// older one, even when the proxy's head snapshot is older.
import t from 'tap';
import { startAptosNode, APTOS_ACCOUNTS } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

t.test('X-Min-Ledger-Version raises the version a latest read is answered for', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    monotonicReads: true
    cache: { maxStaleness: { ms: 600000 } }
`);
  t.teardown(() => proxy.close());
  const url = `${proxy.url}/v1/accounts/${APTOS_ACCOUNTS.alice}/resources`;
  const first = await request(url);
  const v1 = BigInt(first.header('x-ledgerproxy-version') ?? '0');
  t.ok(v1 > 0n, 'a latest answer says which version it is for');
  node.advance(3);
  const v2 = BigInt(node.ledger.version);
  const cached = await request(url);
  t.equal(cached.header('x-ledgerproxy-version'), v1.toString(), 'without the header the snapshot (old) is used');
  const monotonic = await request(url, { headers: { 'x-min-ledger-version': v2.toString() } });
  t.equal(monotonic.status, 200);
  t.ok(BigInt(monotonic.header('x-ledgerproxy-version') ?? '0') >= v2, 'answered for a version ≥ the one the client saw');
  t.match(node.requests.at(-1)?.query ?? '', new RegExp(`ledger_version=${v2}`));
  const bad = await request(url, { headers: { 'x-min-ledger-version': 'abc' } });
  t.equal(bad.status, 400);
});
