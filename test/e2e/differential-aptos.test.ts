// Differential Aptos test with the official SDK (@aptos-labs/ts-sdk 6.x): the same scripted reads
// through the proxy twice and once straight at the (spec-faithful) mock fullnode. Every answer
// through the proxy must equal the node's own answer at the version the proxy pinned it to (a
// latest read is forwarded as `?ledger_version=H`), the second pass must not reach the node, a
// transaction is seen pending and then committed, and a herd of SDK view calls costs one call.
import t from 'tap';
import { Aptos, AptosConfig, Network, type InputViewFunctionData, type InputViewFunctionJsonData } from '@aptos-labs/ts-sdk';
import {
  APT_COIN_STORE,
  APTOS_ACCOUNTS,
  APTOS_COIN,
  BALANCE_VIEW_FUNCTION,
  ECHO_VIEW_FUNCTION,
  aptosCoinValue,
  startAptosNode,
  type AptosRequestRecord,
} from '../support/aptos-node.js';
import { fetchJson, request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

/** tap's subtest type (the global `Tap` namespace is not declared for tsc). */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const { alice, bob, framework } = APTOS_ACCOUNTS;
// Explicit pins used by the script; the head starts at 1000, so none of them is the head.
const PINS = [900, 800, 700, 600] as const;

const node = await startAptosNode();
t.teardown(() => node.close());
const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
    cache: { ttlMs: { head: 10000 } }
`);
t.teardown(() => proxy.close());

const sdk = (base: string) => new Aptos(new AptosConfig({ network: Network.CUSTOM, fullnode: `${base}/v1` }));
const viaProxy = sdk(proxy.url);
const directly = sdk(node.url);

/** Requests the proxy sent to the node (not the head polls, not the direct client's). */
const fromProxy = (r: AptosRequestRecord) => r.headers['x-forwarded-proto'] !== undefined && !String(r.headers['x-request-id']).startsWith('probe-');
const PINNABLE = new Set(['account', 'resources', 'resource', 'modules', 'module', 'balance', 'view']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the labelled calls concurrently; errors become values (status and body, never the URL). */
async function runAll(calls: Record<string, () => Promise<unknown>>): Promise<Record<string, unknown>> {
  const entries = await Promise.all(
    Object.entries(calls).map(async ([k, f]) => {
      try {
        return [k, await f()] as const;
      } catch (e) {
        const err = e as { name?: string; status?: number; data?: unknown };
        return [k, { error: err.name, status: err.status, data: err.data }] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}

function sameResults(t: Test, got: Record<string, unknown>, want: Record<string, unknown>, what: string): void {
  t.same(Object.keys(got), Object.keys(want), `${what}: the same calls`);
  const diff = Object.keys(want).filter((k) => !t.same(got[k], want[k], `${what}: ${k}`));
  t.same(diff, [], `${what}: every answer equals the node's`);
}

/**
 * The scripted reads. `at` undefined: latest reads are sent as latest (through the proxy);
 * `at` = H: the same reads pinned to H (straight at the node, to get what the proxy should answer).
 * SDK 6.3 drops `options.ledgerVersion` on its paginated reads (getAccountResources/Modules and
 * their *Page forms rebuild the query from cursor and limit only), and getAccountInfo has no such
 * option: those are pinned with plain HTTP.
 */
function script(c: Aptos, base: string, at?: number): Promise<Record<string, unknown>> {
  const latest = at === undefined ? undefined : { ledgerVersion: at };
  const pinnedHttp = (path: string, v: number) => fetchJson(`${base}/v1${path}${path.includes('?') ? '&' : '?'}ledger_version=${v}`);
  const balance = (who: string): InputViewFunctionData & InputViewFunctionJsonData => ({ function: BALANCE_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [who] });
  const echo: InputViewFunctionData = { function: ECHO_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [42, 'hi'] };
  return runAll({
    'ledger info': () => c.getLedgerInfo(),
    'account alice latest': () => (at === undefined ? c.getAccountInfo({ accountAddress: alice }) : pinnedHttp(`/accounts/${alice}`, at)),
    'coin store alice latest': () => c.getAccountResource({ accountAddress: alice, resourceType: APT_COIN_STORE, options: latest }),
    'coin store alice @900': () => c.getAccountResource({ accountAddress: alice, resourceType: APT_COIN_STORE, options: { ledgerVersion: 900 } }),
    'resources bob latest': () =>
      at === undefined ? c.getAccountResources({ accountAddress: bob }) : pinnedHttp(`/accounts/${bob}/resources?limit=999`, at),
    'resources bob @800 (HTTP)': () => pinnedHttp(`/accounts/${bob}/resources`, 800),
    'resources alice latest, first page and its cursor': () =>
      at === undefined
        ? c.getAccountResourcesPage({ accountAddress: alice, options: { limit: 1 } })
        : request(`${base}/v1/accounts/${alice}/resources?limit=1&ledger_version=${at}`).then((r) => ({ resources: r.json(), cursor: r.header('x-aptos-cursor') })),
    'modules 0x1 latest': () =>
      at === undefined ? c.getAccountModules({ accountAddress: framework }) : pinnedHttp(`/accounts/${framework}/modules?limit=1000`, at),
    'modules 0x1 @700 (HTTP)': () => pinnedHttp(`/accounts/${framework}/modules`, 700),
    'module 0x1::coin @600': () => c.getAccountModule({ accountAddress: framework, moduleName: 'coin', options: { ledgerVersion: 600 } }),
    'view json balance alice latest': () => c.viewJson({ payload: balance(alice), options: latest }),
    'view json balance alice @900': () => c.viewJson({ payload: balance(alice), options: { ledgerVersion: 900 } }),
    'view bcs balance bob latest': () => c.view({ payload: balance(bob), options: latest }),
    'view bcs balance bob @800': () => c.view({ payload: balance(bob), options: { ledgerVersion: 800 } }),
    'view bcs echo latest': () => c.view({ payload: echo, options: latest }),
    'view bcs echo @600': () => c.view({ payload: echo, options: { ledgerVersion: 600 } }),
    'view json echo @700': () => c.viewJson({ payload: { function: ECHO_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: ['42', 'hi'] }, options: { ledgerVersion: 700 } }),
    'tx by version 500': () => c.getTransactionByVersion({ ledgerVersion: 500 }),
    'tx by version 603': () => c.getTransactionByVersion({ ledgerVersion: 603 }),
    'tx by hash (v601)': () => c.getTransactionByHash({ transactionHash: node.txHashAt(601) }),
    'wait for committed (v602)': () => c.waitForTransaction({ transactionHash: node.txHashAt(602) }),
    'block 100 with txs': () => c.getBlockByHeight({ blockHeight: 100, options: { withTransactions: true } }),
    'block 101': () => c.getBlockByHeight({ blockHeight: 101 }),
    'view of a missing function (400)': () => c.viewJson({ payload: { function: '0x1::mock::nope', typeArguments: [], functionArguments: [] }, options: { ledgerVersion: 900 } }),
  });
}

t.test('SDK reads through the proxy equal the node at the pinned version; the second pass costs only the error', async (t) => {
  const H = node.ledger.version;
  node.resetCalls();
  const first = await script(viaProxy, proxy.url);
  const firstLog = node.requests.filter(fromProxy);
  node.resetCalls();
  const second = await script(viaProxy, proxy.url);
  const secondLog = node.requests.filter(fromProxy);

  // Which version did the proxy pin the latest reads to? Every read of a pinnable endpoint must carry one.
  const versions = firstLog.filter((r) => PINNABLE.has(r.route)).map((r) => new URLSearchParams(r.query).get('ledger_version'));
  t.notOk(versions.includes(null), 'every pinnable read reached the node with a ledger_version');
  const pinnedTo = [...new Set(versions.map(Number))].filter((v) => !(PINS as readonly number[]).includes(v));
  t.same(pinnedTo, [H], `latest reads were forwarded as ?ledger_version=${H}, the head`);

  t.equal(node.ledger.version, H, 'the node did not move during the passes (its latest is its state at H)');
  const want = await script(directly, node.url, H);
  t.same(want['view bcs echo latest'], ['42', 'hi', APTOS_COIN, String(H)], 'sanity: the echo view reports the version it ran at');
  t.same(want['view json balance alice @900'], [String(aptosCoinValue(alice, 900))], 'sanity: balances grow with the version');
  t.match(want['view of a missing function (400)'], { status: 400 }, 'sanity: a bad view is a 400');
  t.match(want['resources alice latest, first page and its cursor'], { cursor: /^0x/ }, 'sanity: a first page has a cursor');
  sameResults(t, first, want, 'first pass');
  sameResults(t, second, want, 'second pass');

  const byRoute = (log: AptosRequestRecord[]) =>
    [...log.reduce((m, r) => m.set(r.route, (m.get(r.route) ?? 0) + 1), new Map<string, number>())].map(([k, v]) => `${k}=${v}`).join(' ');
  t.comment(`client calls per pass: ${Object.keys(want).length}`);
  t.comment(`upstream calls, first pass:  ${firstLog.length} (${byRoute(firstLog)})`);
  t.comment(`upstream calls, second pass: ${secondLog.length} (${byRoute(secondLog)})`);
  t.ok(firstLog.length >= 20, 'the first pass went to the node');
  t.same(secondLog.map((r) => `${r.method} ${r.path}?${r.query}`), ['POST /v1/view?ledger_version=900'], 'the second pass cost only the 400 (errors are never cached)');
});

t.test('a transaction submitted through the proxy is seen pending, then committed (cached only once committed)', async (t) => {
  const submit = await request(`${proxy.url}/v1/transactions`, {
    method: 'POST',
    body: {
      sender: alice,
      sequence_number: '125',
      max_gas_amount: '2000',
      gas_unit_price: '100',
      expiration_timestamp_secs: '1900000000',
      payload: { type: 'entry_function_payload', function: '0x1::aptos_account::transfer', type_arguments: [], arguments: [bob, '5'] },
      signature: { type: 'ed25519_signature', public_key: `0x${'11'.repeat(32)}`, signature: `0x${'22'.repeat(64)}` },
    },
  });
  t.equal(submit.status, 202);
  const hash = submit.json<{ hash: string; type: string }>().hash;
  t.equal(node.submitted.get(hash)?.sequenceNumber, '125', 'the node received the submission once');
  t.equal(node.submitted.size, 1);

  node.resetCalls();
  const pendingViaProxy = await viaProxy.getTransactionByHash({ transactionHash: hash });
  const pendingAgain = await viaProxy.getTransactionByHash({ transactionHash: hash });
  const pendingDirect = await directly.getTransactionByHash({ transactionHash: hash });
  t.equal(pendingDirect.type, 'pending_transaction');
  t.same(pendingViaProxy, pendingDirect, 'pending: equal to the node');
  t.same(pendingAgain, pendingDirect);
  t.equal(node.requests.filter((r) => fromProxy(r) && r.route === 'transaction_by_hash').length, 2, 'a pending answer is not cached');

  // Two SDK clients wait through the proxy while the block is committed.
  const waiting = Promise.all([
    viaProxy.waitForTransaction({ transactionHash: hash, options: { timeoutSecs: 10 } }),
    sdk(proxy.url).waitForTransaction({ transactionHash: hash, options: { timeoutSecs: 10 } }),
  ]);
  await sleep(200);
  const committedAt = node.advance();
  const [w1, w2] = await waiting;
  const committed = (await directly.getTransactionByHash({ transactionHash: hash })) as { version: string; type: string };
  t.match(committed, { type: 'user_transaction', hash, version: String(committedAt.version - 1) });
  t.same(w1, committed, 'waitForTransaction through the proxy returns the committed transaction');
  t.same(w2, committed);
  const waits = node.requests.filter((r) => fromProxy(r) && r.route === 'wait_by_hash').length;
  t.ok(waits <= 2, `the two waiters cost ${waits} wait_by_hash call(s)`);

  const before = node.requests.filter(fromProxy).length;
  t.same(await viaProxy.getTransactionByHash({ transactionHash: hash }), committed, 'committed: equal to the node');
  const byHash = await request(`${proxy.url}/v1/transactions/by_hash/${hash}`);
  t.equal(byHash.header('x-cache'), 'HIT', 'the committed answer is cached');
  t.same(byHash.json(), committed);
  t.ok(node.requests.filter(fromProxy).length - before <= 1, 'at most one upstream call for the committed answer');
  t.same(
    await viaProxy.getTransactionByVersion({ ledgerVersion: Number(committed.version) }),
    await directly.getTransactionByVersion({ ledgerVersion: Number(committed.version) }),
    'by version too',
  );
  const block = await viaProxy.getBlockByHeight({ blockHeight: committedAt.blockHeight, options: { withTransactions: true } });
  t.same(block, await directly.getBlockByHeight({ blockHeight: committedAt.blockHeight, options: { withTransactions: true } }), 'the new block equals the node');
});

t.test('latest reads follow the head after a commit', async (t) => {
  const headBefore = node.ledger.version;
  const { version } = node.advance(2);
  await sleep(1100); // > maxStaleness.ms (default 1000): the snapshot must move to the new head
  await proxy.state.runtime.groups.get('aptos')?.heads.pollAll();
  node.resetCalls();
  const echo: InputViewFunctionData = { function: ECHO_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [7, 'x'] };
  const viaLatest = await viaProxy.view({ payload: echo });
  t.same(viaLatest, ['7', 'x', APTOS_COIN, String(version)], `the latest view ran at the new head ${version} (was ${headBefore})`);
  t.same(viaLatest, await directly.view({ payload: echo, options: { ledgerVersion: version } }));
  t.same(
    await viaProxy.getAccountResource({ accountAddress: bob, resourceType: APT_COIN_STORE }),
    await directly.getAccountResource({ accountAddress: bob, resourceType: APT_COIN_STORE, options: { ledgerVersion: version } }),
  );
});

t.test('a herd of 100 concurrent SDK view calls at a pinned version costs one upstream call', async (t) => {
  const payload: InputViewFunctionData = { function: BALANCE_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [bob] };
  const herdClient = sdk(proxy.url);
  await herdClient.view({ payload, options: { ledgerVersion: 1 } }); // the SDK fetches and memoises the ABI
  node.setFault({ kind: 'slow', ms: 100 });
  node.resetCalls();
  const answers = await Promise.all(Array.from({ length: 100 }, () => herdClient.view({ payload, options: { ledgerVersion: 950 } })));
  const views = node.requests.filter((r) => fromProxy(r) && r.route === 'view');
  node.setFault({ kind: 'none' });
  t.equal(views.length, 1, 'exactly one upstream view call');
  t.equal(node.requests.filter(fromProxy).length, 1, 'and nothing else');
  t.equal(views[0]?.query, 'ledger_version=950');
  const want = await directly.view({ payload, options: { ledgerVersion: 950 } });
  t.same(want, [String(aptosCoinValue(bob, 950))]);
  t.same(new Set(answers.map((a) => JSON.stringify(a))), new Set([JSON.stringify(want)]), 'all 100 answers equal the node');
});
