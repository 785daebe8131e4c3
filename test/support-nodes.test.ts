/**
 * Proves the mock upstream nodes in test/support behave as specified: the real Aptos SDK, viem and
 * ethers against them, the JSON-RPC envelope, and every fault kind observed from the client side.
 */
import t from 'tap';
import { gunzipSync } from 'node:zlib';
import {
  Account,
  AptosApiError,
  Aptos,
  AptosConfig,
  Network as AptosNetwork,
  type UserTransactionResponse,
} from '@aptos-labs/ts-sdk';
import { createPublicClient, http, keccak256, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { JsonRpcProvider, Network as EthersNetwork } from 'ethers';
import {
  APT_COIN_STORE,
  APTOS_ACCOUNTS,
  APTOS_COIN,
  BALANCE_VIEW_FUNCTION,
  ECHO_VIEW_FUNCTION,
  aptosCoinValue,
  startAptosNode,
} from './support/aptos-node.js';
import {
  EVM_LOG_ADDRESS,
  NEO_FAULT_OPERATION,
  NEO_ITERATOR_OPERATION,
  evmBalance,
  evmCallResult,
  neoInvokeValue,
  startJsonRpcNode,
} from './support/jsonrpc-node.js';
import { killNode, restartNode } from './support/node-faults.js';
import { fetchJson, request, rpcCall, HttpStatusError } from './support/http-client.js';

const { alice, bob } = APTOS_ACCOUNTS;
const APTOS_HEADERS = [
  'x-aptos-chain-id',
  'x-aptos-ledger-version',
  'x-aptos-ledger-oldest-version',
  'x-aptos-ledger-timestampusec',
  'x-aptos-epoch',
  'x-aptos-block-height',
  'x-aptos-oldest-block-height',
];

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

// ---------------------------------------------------------------------------------------------
t.test('aptos: the official ts-sdk works against the mock', async (t) => {
  const node = await startAptosNode({ version: 1000, chainId: 4 });
  t.teardown(() => node.close());
  const aptos = new Aptos(new AptosConfig({ network: AptosNetwork.CUSTOM, fullnode: `${node.url}/v1` }));

  const info = await aptos.getLedgerInfo();
  t.equal(info.chain_id, 4);
  t.equal(info.ledger_version, String(node.ledger.version));
  t.equal(info.block_height, String(node.ledger.blockHeight));
  t.equal(info.node_role, 'full_node');

  const acct = await aptos.getAccountInfo({ accountAddress: alice });
  t.equal(acct.authentication_key, alice);

  const v = node.ledger.version;
  const store = await aptos.getAccountResource<{ coin: { value: string } }>({ accountAddress: alice, resourceType: APT_COIN_STORE });
  t.equal(store.coin.value, aptosCoinValue(alice, v).toString());
  const old = await aptos.getAccountResource<{ coin: { value: string } }>({
    accountAddress: alice,
    resourceType: APT_COIN_STORE,
    options: { ledgerVersion: 500 },
  });
  t.equal(old.coin.value, aptosCoinValue(alice, 500).toString(), 'pinned read answers for that version');
  t.not(old.coin.value, store.coin.value);

  const resources = await aptos.getAccountResources({ accountAddress: bob });
  t.same(resources.map((r) => r.type), ['0x1::account::Account', APT_COIN_STORE]);
  const modules = await aptos.getAccountModules({ accountAddress: '0x1' });
  t.ok(modules.some((m) => m.abi?.name === 'coin'));

  // BCS view (what aptos.view sends) and JSON view.
  node.resetCalls();
  const [bal] = await aptos.view<[string]>({
    payload: { function: BALANCE_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [alice] },
  });
  t.equal(bal, aptosCoinValue(alice, v).toString());
  const viewReq = node.requests.find((r) => r.route === 'view');
  t.equal(viewReq?.headers['content-type'], 'application/x.aptos.view_function+bcs', 'SDK sends BCS view');
  t.equal(viewReq?.headers.accept, 'application/json', 'SDK accepts JSON');
  t.equal(node.calls.byRoute.get('module'), 1, 'SDK fetched the module ABI once');
  const [bal2] = await aptos.view<[string]>({
    payload: { function: BALANCE_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [alice] },
  });
  t.equal(bal2, bal);
  t.equal(node.calls.byRoute.get('module'), 1, 'ABI memoized by the SDK');
  t.equal(node.calls.byRoute.get('view'), 2);

  const echo = await aptos.view({
    payload: { function: ECHO_VIEW_FUNCTION, typeArguments: ['0x1::aptos_coin::AptosCoin'], functionArguments: [42, 'hi'] },
    options: { ledgerVersion: 700 },
  });
  t.same(echo, ['42', 'hi', APTOS_COIN, '700']);
  const echoJson = await aptos.viewJson({
    payload: { function: ECHO_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: ['7', 'x'] },
  });
  t.same(echoJson, ['7', 'x', APTOS_COIN, String(v)]);

  t.equal(await aptos.getBalance({ accountAddress: alice, asset: APTOS_COIN }), Number(aptosCoinValue(alice, v)));

  // Transactions and blocks.
  const byVersion = await aptos.getTransactionByVersion({ ledgerVersion: 901 });
  t.equal(byVersion.type, 'user_transaction');
  t.equal(byVersion.hash, node.txHashAt(901));
  const byHash = await aptos.getTransactionByHash({ transactionHash: byVersion.hash });
  t.same(byHash, byVersion);
  const block = await aptos.getBlockByHeight({ blockHeight: 200, options: { withTransactions: true } });
  t.equal(block.first_version, '800');
  t.equal(block.last_version, '803');
  t.same(block.transactions?.map((x) => x.type), [
    'block_metadata_transaction',
    'user_transaction',
    'user_transaction',
    'state_checkpoint_transaction',
  ]);
  const missing = await rejects(aptos.getTransactionByHash({ transactionHash: `0x${'ab'.repeat(32)}` }));
  t.ok(missing instanceof AptosApiError);
  t.equal((missing as AptosApiError).status, 404);
  t.equal((missing as AptosApiError).data.error_code, 'transaction_not_found');

  // A real signed submission, then waitForTransaction (pending -> wait_by_hash long poll -> committed).
  const sender = Account.generate();
  const txn = await aptos.transaction.build.simple({
    sender: sender.accountAddress,
    data: { function: '0x1::aptos_account::transfer', functionArguments: [bob, 100] },
  });
  const pending = await aptos.signAndSubmitTransaction({ signer: sender, transaction: txn });
  t.equal(pending.type, 'pending_transaction');
  t.equal(pending.sender, sender.accountAddress.toStringLong());
  t.equal(node.requests.at(-1)?.headers['content-type'], 'application/x.aptos.signed_transaction+bcs');
  const stillPending = await aptos.getTransactionByHash({ transactionHash: pending.hash });
  t.equal(stillPending.type, 'pending_transaction');
  setTimeout(() => node.advance(), 150);
  const committed = (await aptos.waitForTransaction({ transactionHash: pending.hash })) as UserTransactionResponse;
  t.equal(committed.type, 'user_transaction');
  t.equal(committed.hash, pending.hash, 'hash is the real sha3(APTOS::Transaction || 0 || bcs)');
  t.equal(committed.version, String(node.ledger.version - 1), 'committed between metadata and checkpoint');
  t.same((committed.payload as { arguments: unknown[] }).arguments, [bob, '100']);
  t.equal(node.calls.byRoute.get('wait_by_hash'), 1);
});

t.test('aptos: raw HTTP semantics, headers, errors, BCS, counting', async (t) => {
  const node = await startAptosNode({ version: 1000, oldestVersion: 100, waitByHashTimeoutMs: 300 });
  t.teardown(() => node.close());
  const base = `${node.url}/v1`;

  const li = await request(base);
  t.equal(li.status, 200);
  t.match(li.header('content-type'), /^application\/json/);
  for (const h of APTOS_HEADERS) t.ok(li.header(h), `${h} present`);
  t.equal(li.header('x-aptos-ledger-version'), '1000');
  t.equal(li.header('x-aptos-ledger-oldest-version'), '100');

  const res = `${base}/accounts/${alice}/resource/${encodeURIComponent(APT_COIN_STORE)}`;
  const a = await request(`${res}?ledger_version=600`);
  const b = await request(`${res}?ledger_version=601`);
  t.not(a.text(), b.text(), 'answers differ per ledger_version');
  t.equal(a.json<{ data: { coin: { value: string } } }>().data.coin.value, aptosCoinValue(alice, 600).toString());

  const ahead = await request(`${res}?ledger_version=1001`);
  t.equal(ahead.status, 404);
  t.same(ahead.json(), { message: ahead.json<{ message: string }>().message, error_code: 'version_not_found', vm_error_code: null });
  for (const h of APTOS_HEADERS) t.ok(ahead.header(h), `${h} present on 404`);
  const pruned = await request(`${res}?ledger_version=99`);
  t.equal(pruned.status, 410);
  t.equal(pruned.json<{ error_code: string }>().error_code, 'version_pruned');

  // JSON view, and BCS answer for Accept: application/x-bcs.
  const viewBody = { function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [bob] };
  const vj = await fetchJson<string[]>(`${base}/view?ledger_version=500`, { method: 'POST', body: viewBody });
  t.same(vj, [aptosCoinValue(bob, 500).toString()]);
  const vb = await request(`${base}/view?ledger_version=500`, { method: 'POST', body: viewBody, headers: { accept: 'application/x-bcs' } });
  t.equal(vb.header('content-type'), 'application/x-bcs');
  t.equal(vb.body[0], 1, 'vector of one return value');
  t.equal(vb.body[1], 8, 'u64 is 8 BCS bytes');
  t.equal(vb.body.readBigUInt64LE(2), aptosCoinValue(bob, 500));
  const badView = await request(`${base}/view`, { method: 'POST', body: { function: '0x1::nope::nope', type_arguments: [], arguments: [] } });
  t.equal(badView.status, 400);
  t.equal(badView.json<{ error_code: string }>().error_code, 'invalid_input');

  // Submission lifecycle over JSON.
  const sub = await request(`${base}/transactions`, { method: 'POST', body: { sender: alice, sequence_number: '1', payload: { type: 'entry_function_payload' } } });
  t.equal(sub.status, 202);
  const hash = sub.json<{ hash: string; type: string }>().hash;
  t.equal(sub.json<{ type: string }>().type, 'pending_transaction');
  t.equal((await fetchJson<{ type: string }>(`${base}/transactions/by_hash/${hash}`)).type, 'pending_transaction');
  const t0 = Date.now();
  const waited = await fetchJson<{ type: string }>(`${base}/transactions/wait_by_hash/${hash}`);
  t.equal(waited.type, 'pending_transaction', 'long poll times out pending');
  t.ok(Date.now() - t0 >= 250, 'wait_by_hash waited');
  node.advance();
  const done = await fetchJson<{ type: string; version: string }>(`${base}/transactions/by_hash/${hash}`);
  t.equal(done.type, 'user_transaction');
  t.equal(done.version, '1002');
  t.equal(node.ledger.version, 1003);
  const unknown = await request(`${base}/transactions/by_hash/0x${'cd'.repeat(32)}`);
  t.equal(unknown.status, 404);
  t.equal(unknown.json<{ error_code: string }>().error_code, 'transaction_not_found');

  // Exact counting.
  node.resetCalls();
  await request(base);
  await request(`${base}/view`, { method: 'POST', body: viewBody });
  await request(`${base}/view`, { method: 'POST', body: viewBody });
  t.equal(node.calls.total, 3);
  t.equal(node.calls.byPath.get('/v1/view'), 2);
  t.equal(node.calls.byRoute.get('ledger_info'), 1);

  // lagBy / prunedBelow.
  node.setFault({ kind: 'none', lagBy: 2, prunedBelow: 300 });
  const lag = await request(base);
  t.equal(lag.header('x-aptos-block-height'), String(node.ledger.blockHeight - 2));
  t.equal(lag.header('x-aptos-ledger-version'), String(node.ledger.reportedVersion));
  t.ok(node.ledger.reportedVersion < node.ledger.version);
  t.equal(lag.header('x-aptos-ledger-oldest-version'), '300');
  t.equal((await request(`${res}?ledger_version=${node.ledger.version}`)).status, 404, 'lagging replica lacks the head');
  t.equal((await request(`${res}?ledger_version=200`)).status, 410);
  node.setFault({ kind: 'none' });
  t.equal((await request(`${res}?ledger_version=${node.ledger.version}`)).status, 200);
});

t.test('aptos: timers, commit delay, latency, gzip', async (t) => {
  const node = await startAptosNode({ version: 10, autoAdvanceMs: 30, commitDelayMs: 50, latencyMs: 40, gzip: true });
  t.teardown(() => node.close());
  const t0 = Date.now();
  const r = await request(`${node.url}/v1`, { headers: { 'accept-encoding': 'gzip' } });
  t.ok(Date.now() - t0 >= 35, 'latency applied');
  t.equal(r.header('content-encoding'), 'gzip');
  const li = JSON.parse(gunzipSync(r.body).toString()) as { ledger_version: string };
  t.equal(li.ledger_version, r.header('x-aptos-ledger-version'));
  const startHeight = node.ledger.blockHeight;
  const sub = await request(`${node.url}/v1/transactions`, { method: 'POST', body: { sender: bob, sequence_number: '0' } });
  t.equal(sub.header('content-encoding'), undefined, 'no gzip unless accepted');
  const { hash } = sub.json<{ hash: string }>();
  await new Promise((res) => setTimeout(res, 120));
  t.ok(node.ledger.blockHeight > startHeight, 'auto-advance grows the ledger');
  t.equal(node.submitted.get(hash)?.version !== undefined, true, 'committed by the delay / timer');
});

t.test('aptos: two nodes of one chain at one version answer byte-identically', async (t) => {
  const [a, b] = await Promise.all([startAptosNode({ version: 300 }), startAptosNode({ version: 300 })]);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  for (const path of [
    `/v1/accounts/${alice}/resources?ledger_version=250`,
    '/v1/transactions/by_version/123',
    '/v1/blocks/by_height/40?with_transactions=true',
  ]) {
    const [ra, rb] = await Promise.all([request(a.url + path), request(b.url + path)]);
    t.equal(ra.status, 200);
    t.ok(ra.body.equals(rb.body), path);
  }
  const view = { function: ECHO_VIEW_FUNCTION, type_arguments: ['u8'], arguments: ['1', 'z'] };
  const [va, vb] = await Promise.all([
    fetchJson(`${a.url}/v1/view`, { method: 'POST', body: view }),
    fetchJson(`${b.url}/v1/view`, { method: 'POST', body: view }),
  ]);
  t.same(va, vb);
  t.same(va, ['1', 'z', 'u8', '300']);
});

// ---------------------------------------------------------------------------------------------
t.test('evm: viem (batched) and ethers against the mock', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm', head: 100 });
  t.teardown(() => node.close());
  const addr = '0x00000000000000000000000000000000000a11ce';
  const to = '0x0000000000000000000000000000000000000bee';
  const data = '0x70a08231';

  const client = createPublicClient({ transport: http(node.url, { batch: true }), cacheTime: 0 });
  const [bn, bal, call, chain] = await Promise.all([
    client.getBlockNumber({ cacheTime: 0 }),
    client.getBalance({ address: addr, blockNumber: 50n }),
    client.call({ to, data, blockNumber: 60n }),
    client.getChainId(),
  ]);
  t.equal(bn, 100n);
  t.equal(bal, evmBalance(addr, 50));
  t.equal(call.data, evmCallResult(to, data, 60));
  t.equal(chain, 31337);
  t.equal(node.calls.total, 1, 'one HTTP request');
  t.equal(node.calls.batches, 1);
  t.equal(node.calls.rpc, 4);
  t.equal(node.calls.byMethod.get('eth_getBalance'), 1);

  const b51 = await client.getBalance({ address: addr, blockNumber: 51n });
  t.not(b51, bal, 'state depends on the block');
  await t.rejects(client.getBlock({ blockNumber: 101n }), 'null above the head');
  const blk = await client.getBlock({ blockNumber: 100n });
  t.equal(blk.hash, node.blockHashAt(100));
  const synth = await client.getTransaction({ hash: node.txHashAt(42) as Hex });
  t.equal(synth.blockNumber, 42n);

  // A real signed transaction: pending (blockNumber null), no receipt, then mined by advance().
  const account = privateKeyToAccount(`0x${'11'.repeat(32)}`);
  const raw = await account.signTransaction({
    chainId: 31337,
    type: 'eip1559',
    to,
    value: 1n,
    nonce: 0,
    gas: 21000n,
    maxFeePerGas: 2_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  });
  const hash = await client.sendRawTransaction({ serializedTransaction: raw });
  t.equal(hash, keccak256(raw));
  const p = await client.getTransaction({ hash });
  t.equal(p.blockNumber, null);
  t.equal(p.from, account.address.toLowerCase());
  await t.rejects(client.getTransactionReceipt({ hash }), 'no receipt while pending');
  node.advance();
  const rcpt = await client.getTransactionReceipt({ hash });
  t.equal(rcpt.blockNumber, 101n);
  t.equal(rcpt.status, 'success');

  // ethers v6, static network (no eth_chainId probing).
  const net = EthersNetwork.from(31337);
  const provider = new JsonRpcProvider(node.url, net, { staticNetwork: net });
  t.teardown(() => provider.destroy());
  t.equal(await provider.getBlockNumber(), 101);
  t.equal(await provider.getBalance(addr, 50), evmBalance(addr, 50));
  t.equal(await provider.call({ to, data, blockTag: 60 }), evmCallResult(to, data, 60));
  const etx = await provider.getTransaction(node.txHashAt(42));
  t.equal(etx?.blockNumber, 42);
  t.equal(etx?.hash, node.txHashAt(42));
  const esent = await provider.getTransaction(hash);
  t.equal(esent?.blockNumber, 101);
  t.equal(esent?.from.toLowerCase(), account.address.toLowerCase());
  t.equal(await provider.getTransaction(`0x${'ee'.repeat(32)}`), null);
});

t.test('evm: JSON-RPC envelope, logs, finality tags, reorg', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm', head: 100 });
  t.teardown(() => node.close());

  const batch = await request(node.url, {
    body: [
      { jsonrpc: '2.0', id: 'a', method: 'eth_blockNumber' },
      { jsonrpc: '2.0', id: null, method: 'net_version' },
      { jsonrpc: '2.0', method: 'eth_chainId' },
      { jsonrpc: '2.0', id: 7, method: 'eth_nope' },
      { nope: true },
    ],
  });
  t.same(batch.json(), [
    { jsonrpc: '2.0', id: 'a', result: '0x64' },
    { jsonrpc: '2.0', id: null, result: '31337' },
    { jsonrpc: '2.0', id: 7, error: { code: -32601, message: 'the method eth_nope does not exist/is not available' } },
    { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request' } },
  ]);
  const bad = await request(node.url, { body: '{"jsonrpc":"2.0",', headers: { 'content-type': 'application/json' } });
  t.equal(bad.json<{ error: { code: number } }>().error.code, -32700);
  const empty = await request(node.url, { body: [] });
  t.equal(empty.json<{ error: { code: number } }>().error.code, -32600);
  const notif = await request(node.url, { body: { jsonrpc: '2.0', method: 'eth_blockNumber' } });
  t.equal(notif.body.length, 0, 'a notification gets no answer');

  t.equal((await rpcCall(node.url, 'eth_getBlockByNumber', ['0x65', false])).result, null);
  t.equal((await rpcCall(node.url, 'eth_call', [{ to: EVM_LOG_ADDRESS, data: '0x' }, '0x65'])).error?.message, 'header not found');
  t.equal((await rpcCall<{ number: string }>(node.url, 'eth_getBlockByNumber', ['finalized', false])).result?.number, '0x24');
  t.equal((await rpcCall(node.url, 'eth_getTransactionByHash', [`0x${'12'.repeat(32)}`])).result, null);
  const logs = await rpcCall<unknown[]>(node.url, 'eth_getLogs', [{ fromBlock: '0x5a', toBlock: 'latest', address: EVM_LOG_ADDRESS }]);
  t.equal(logs.result?.length, 11);

  const before = node.blockHashAt(99);
  const balBefore = (await rpcCall(node.url, 'eth_getBalance', [EVM_LOG_ADDRESS, '0x63'])).result;
  node.reorg(3);
  t.not(node.blockHashAt(99), before, 'reorged block has a new hash');
  t.equal(node.blockHashAt(97), node.blockHashAt(97));
  t.not((await rpcCall(node.url, 'eth_getBalance', [EVM_LOG_ADDRESS, '0x63'])).result, balBefore, 'and new state');
  t.equal((await rpcCall(node.url, 'eth_getBlockByHash', [before, false])).result, null, 'old hash is gone');
});

// ---------------------------------------------------------------------------------------------
t.test('neo: N3 JSON-RPC methods', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'neo', head: 1000 });
  t.teardown(() => node.close());
  const contract = '0xd2a4cff31913016155e38e474a2c06d08be276cf';

  t.equal((await rpcCall(node.url, 'getblockcount')).result, 1001);
  const blk = await rpcCall<{ index: number; confirmations: number; tx: { hash: string }[] }>(node.url, 'getblock', [990, true]);
  t.equal(blk.result?.confirmations, 11);
  t.equal(typeof (await rpcCall(node.url, 'getblock', [990])).result, 'string', 'non-verbose is base64');
  t.equal((await rpcCall(node.url, 'getblock', [1001, true])).error?.code, -101);

  const inv = await rpcCall<{ state: string; stack: { type: string; value: string }[]; session?: string }>(node.url, 'invokefunction', [contract, 'balanceOf', [{ type: 'Hash160', value: contract }]]);
  t.equal(inv.result?.state, 'HALT');
  t.equal(inv.result?.stack[0]?.value, neoInvokeValue(contract, 'balanceOf', [{ type: 'Hash160', value: contract }], 1001));
  t.equal(inv.result?.session, undefined);
  const it = await rpcCall<{ session: string; stack: { id: string }[] }>(node.url, 'invokefunction', [contract, NEO_ITERATOR_OPERATION, []]);
  t.ok(it.result?.session, 'iterator answer carries a session');
  const items = await rpcCall<unknown[]>(node.url, 'traverseiterator', [it.result?.session, it.result?.stack[0]?.id, 3]);
  t.equal(items.result?.length, 3);
  t.equal((await rpcCall(node.url, 'terminatesession', [it.result?.session])).result, true);
  t.equal((await rpcCall<{ state: string }>(node.url, 'invokefunction', [contract, NEO_FAULT_OPERATION, []])).result?.state, 'FAULT');

  const bal1 = await rpcCall<{ balance: { amount: string }[] }>(node.url, 'getnep17balances', ['NXV7ZhHiyM1aHXwpVsRZC6BwNFP2jghXAq']);
  const sent = await rpcCall<{ hash: string }>(node.url, 'sendrawtransaction', [Buffer.from('a neo tx').toString('base64')]);
  const hash = sent.result?.hash ?? '';
  const pend = await rpcCall<Record<string, unknown>>(node.url, 'getrawtransaction', [hash, true]);
  t.equal(pend.result?.blockhash, undefined, 'mempool tx has no block');
  node.advance(2);
  const mined = await rpcCall<{ blockhash: string; confirmations: number }>(node.url, 'getrawtransaction', [hash, true]);
  t.equal(mined.result?.blockhash, node.blockHashAt(1001));
  t.equal(mined.result?.confirmations, 2);
  const blk2 = await rpcCall<{ confirmations: number }>(node.url, 'getblock', [990, true]);
  t.equal(blk2.result?.confirmations, 13, 'confirmations grow');
  const bal2 = await rpcCall<{ balance: { amount: string }[] }>(node.url, 'getnep17balances', ['NXV7ZhHiyM1aHXwpVsRZC6BwNFP2jghXAq']);
  t.not(bal2.result?.balance[1]?.amount, bal1.result?.balance[1]?.amount);
  t.equal((await rpcCall(node.url, 'getrawtransaction', [`0x${'34'.repeat(32)}`, true])).error?.code, -103);
  t.equal(node.calls.byMethod.get('getrawtransaction'), 3);
});

// ---------------------------------------------------------------------------------------------
t.test('faults, observed from the client side', async (t) => {
  const aptos = await startAptosNode();
  const evm = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => Promise.all([aptos.close(), evm.close()]));
  const ledger = `${aptos.url}/v1`;

  t.test('hang', async (t) => {
    aptos.setFault({ kind: 'hang' });
    const before = aptos.calls.total;
    const e = await rejects(request(ledger, { timeoutMs: 200 }));
    t.match(e.name, /Abort|Timeout/);
    t.equal(aptos.calls.total, before + 1, 'counted');
  });

  t.test('close-mid-body', async (t) => {
    aptos.setFault({ kind: 'close-mid-body' });
    const e = await rejects(request(ledger));
    t.ok(e, `body cut: ${e.message}`);
    evm.setFault({ kind: 'close-mid-body' });
    const client = createPublicClient({ transport: http(evm.url, { retryCount: 0 }) });
    await t.rejects(client.getBlockNumber({ cacheTime: 0 }));
  });

  t.test('garbage', async (t) => {
    aptos.setFault({ kind: 'garbage' });
    const r = await request(ledger);
    t.equal(r.status, 200);
    t.throws(() => r.json());
    evm.setFault({ kind: 'garbage' });
    const net = EthersNetwork.from(31337);
    const provider = new JsonRpcProvider(evm.url, net, { staticNetwork: net });
    t.teardown(() => provider.destroy());
    await t.rejects(provider.getBlockNumber());
  });

  t.test('status', async (t) => {
    aptos.setFault({ kind: 'status', status: 503 });
    t.equal((await request(ledger)).status, 503);
    // Through the SDK: a POST (got, under the SDK, retries GETs on 5xx twice with ~1 s + 2 s backoff).
    const sdk = new Aptos(new AptosConfig({ network: AptosNetwork.CUSTOM, fullnode: ledger }));
    const before = aptos.calls.byRoute.get('view') ?? 0;
    const e = await rejects(sdk.viewJson({ payload: { function: BALANCE_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [bob] } }));
    t.ok(e instanceof AptosApiError);
    t.equal((e as AptosApiError).status, 503);
    t.equal(aptos.calls.byRoute.get('view'), before + 1, 'no retry of a POST');
    const e2 = await rejects(fetchJson(ledger));
    t.ok(e2 instanceof HttpStatusError);
  });

  t.test('slow', async (t) => {
    aptos.setFault({ kind: 'slow', ms: 150 });
    const t0 = Date.now();
    t.equal((await request(ledger)).status, 200);
    t.ok(Date.now() - t0 >= 140);
  });

  t.test('reset', async (t) => {
    aptos.setFault({ kind: 'reset' });
    const e = await rejects(request(ledger));
    t.match(String((e as { code?: string }).code ?? e.message), /ECONNRESET|UND_ERR_SOCKET|closed/i);
  });

  t.test('times and match', async (t) => {
    aptos.setFault({ kind: 'status', status: 500, times: 1 });
    t.equal((await request(ledger)).status, 500);
    t.equal((await request(ledger)).status, 200, 'recovers after `times`');
    evm.setFault({ kind: 'status', status: 502, match: (i) => i.rpcMethods.includes('eth_call') });
    t.equal((await request(evm.url, { body: { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber' } })).status, 200);
    t.equal((await request(evm.url, { body: { jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ to: EVM_LOG_ADDRESS }] } })).status, 502);
  });

  t.test('lagBy and prunedBelow on EVM', async (t) => {
    evm.setFault({ kind: 'none', lagBy: 5, prunedBelow: 10 });
    t.equal((await rpcCall(evm.url, 'eth_blockNumber')).result, `0x${(evm.head - 5).toString(16)}`);
    t.equal((await rpcCall(evm.url, 'eth_getBlockByNumber', [`0x${evm.head.toString(16)}`, false])).result, null);
    t.match((await rpcCall(evm.url, 'eth_getBalance', [EVM_LOG_ADDRESS, '0x5'])).error?.message, /missing trie node/);
  });

  t.test('kill and restart on the same port', async (t) => {
    aptos.setFault({ kind: 'none' });
    const port = aptos.port;
    const v = aptos.ledger.version;
    await killNode(aptos);
    t.equal(aptos.alive, false);
    // A request racing the kill may hit the dying keep-alive socket; a fresh connection is refused.
    await rejects(request(ledger));
    const e = await rejects(request(ledger));
    t.match(String((e as { code?: string }).code ?? e.message), /ECONNREFUSED/);
    aptos.advance();
    await restartNode(aptos);
    t.equal(aptos.port, port);
    const r = await request(ledger);
    t.equal(r.status, 200);
    t.equal(r.header('x-aptos-ledger-version'), String(aptos.ledger.version));
    t.ok(aptos.ledger.version > v, 'state kept across the restart');
  });
});
