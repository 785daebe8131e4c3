// Read-your-writes on Aptos through the proxy, against the spec-faithful mock (it answers a view
// for the version it ran at, and a committed transaction keeps its version): submit → the SDK's
// waitForTransaction → view at latest answers for a version ≥ the transaction's. Plus monotonic
// reads with a lagging replica on reads that cannot be pinned, and stale-while-revalidate with
// X-Min-Ledger-Version.
import t from 'tap';
import { Aptos, AptosConfig, Network, type InputViewFunctionData } from '@aptos-labs/ts-sdk';
import { APTOS_ACCOUNTS, APTOS_COIN, ECHO_VIEW_FUNCTION, startAptosNode } from '../support/aptos-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

const sdk = (base: string) => new Aptos(new AptosConfig({ network: Network.CUSTOM, fullnode: `${base}/v1` }));
const echo: InputViewFunctionData = { function: ECHO_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [7, 'x'] };

function transferBody(sequence: number) {
  return {
    sender: APTOS_ACCOUNTS.alice,
    sequence_number: String(sequence),
    max_gas_amount: '2000',
    gas_unit_price: '100',
    expiration_timestamp_secs: '1900000000',
    payload: { type: 'entry_function_payload', function: '0x1::aptos_account::transfer', type_arguments: [], arguments: [APTOS_ACCOUNTS.bob, '5'] },
    signature: { type: 'ed25519_signature', public_key: `0x${'11'.repeat(32)}`, signature: `0x${'22'.repeat(64)}` },
  };
}

t.test('submit → waitForTransaction → view at latest answers for a version ≥ the transaction\'s', async (t) => {
  const node = await startAptosNode({ commitDelayMs: 20 });
  t.teardown(() => node.close());
  // Default Aptos staleness (1 s) and a slow head poll: only the floor can move latest reads in time.
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  const client = sdk(proxy.url);
  const behind: string[] = [];
  for (let round = 0; round < 20; round++) {
    await client.view({ payload: echo }); // a latest view cached at the current snapshot
    const submit = await request(`${proxy.url}/v1/transactions`, { method: 'POST', body: transferBody(1000 + round) });
    t.equal(submit.status, 202);
    const hash = submit.json<{ hash: string }>().hash;
    const committed = (await client.waitForTransaction({ transactionHash: hash, options: { timeoutSecs: 10 } })) as { version: string };
    const [, , , ranAt] = (await client.view({ payload: echo })) as [string, string, string, string];
    if (BigInt(ranAt) < BigInt(committed.version)) behind.push(`round ${round}: view ran at ${ranAt}, transaction at ${committed.version}`);
  }
  t.same(behind, [], '20 rounds: every latest view saw the committed transaction');
});

t.test('monotonic reads: GET /v1 never comes from a replica below X-Min-Ledger-Version', async (t) => {
  const primary = await startAptosNode();
  const replica = await startAptosNode();
  t.teardown(() => primary.close());
  t.teardown(() => replica.close());
  replica.setFault({ kind: 'none', lagBy: 17 });
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${primary.url}, replicas: [${replica.url}], head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    monotonicReads: true
`);
  t.teardown(() => proxy.close());
  const v = BigInt(primary.ledger.version);
  const headers = { 'x-min-ledger-version': v.toString() };
  for (let i = 0; i < 3; i++) {
    const info = await request(`${proxy.url}/v1`, { headers });
    t.ok(BigInt(info.json<{ ledger_version: string }>().ledger_version) >= v, `GET /v1 (${info.header('x-cache')}) answers for ≥ ${v}`);
    // (The mock implements no account-transactions endpoint; that route is planned exactly like GET /v1.)
  }
});

t.test('stale-while-revalidate never serves older than X-Min-Ledger-Version; a STALE answer names its own version', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    monotonicReads: true
    cache: { maxStaleness: { ms: 0 }, staleWhileRevalidateMs: 60000 }
`);
  t.teardown(() => proxy.close());
  const view = () => ({ method: 'POST' as const, body: { function: ECHO_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: ['7', 'x'] } });
  const first = await request(`${proxy.url}/v1/view`, view());
  const v1 = first.header('x-ledgerproxy-version');
  node.advance(2);
  await proxy.state.runtime.groups.get('aptos')!.heads.pollAll();
  const v2 = node.ledger.version;
  node.setFault({ kind: 'slow', ms: 200 });
  const stale = await request(`${proxy.url}/v1/view`, view());
  t.equal(stale.header('x-cache'), 'STALE', 'without a minimum: the previous head\'s answer while refreshing');
  t.equal(stale.header('x-ledgerproxy-version'), v1, 'and the header says the version it is for');
  t.equal(stale.json<string[]>()[3], v1);
  const fresh = await request(`${proxy.url}/v1/view`, { ...view(), headers: { 'x-min-ledger-version': String(v2) } });
  t.not(fresh.header('x-cache'), 'STALE', 'with X-Min-Ledger-Version above the previous head: never the stale answer');
  t.ok(BigInt(fresh.header('x-ledgerproxy-version') ?? '0') >= BigInt(v2));
  t.ok(BigInt(fresh.json<string[]>()[3] ?? '0') >= BigInt(v2), 'the view ran at ≥ the minimum');
});
