import t from 'tap';
import { aptosRest } from '../../src/dialects/aptos-rest.js';
import { evmJsonRpc } from '../../src/dialects/evm-jsonrpc.js';
import { neoJsonRpc } from '../../src/dialects/neo-jsonrpc.js';
import type { Call, CallAnswer, Dialect } from '../../src/dialects/types.js';

const HASH = `0x${'ab'.repeat(32)}`;
const limits = { maxJsonDepth: 64, maxBatchLength: 100 };

function rpcCall(dialect: Dialect, method: string, params: unknown[]): Call {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  const parsed = dialect.parse({ method: 'POST', path: '/', query: '', headers: { 'content-type': 'application/json' }, body }, limits);
  if (parsed.kind !== 'jsonrpc') throw new Error('not json-rpc');
  return parsed.calls[0]!;
}

function restCall(path: string): Call {
  const parsed = aptosRest.parse({ method: 'GET', path, query: '', headers: {}, body: Buffer.alloc(0) }, limits);
  if (parsed.kind !== 'rest') throw new Error('not rest');
  return parsed.call;
}

const ok = (result: unknown, headers: CallAnswer['headers'] = {}): CallAnswer => ({ status: 200, headers, body: Buffer.from(JSON.stringify(result)) });

t.test('EVM: eth_blockNumber, block numbers, blockNumber of receipts, transactions and logs', async (t) => {
  const seen = (method: string, params: unknown[], result: unknown) => evmJsonRpc.observe(rpcCall(evmJsonRpc, method, params), ok(result));
  t.equal(seen('eth_blockNumber', [], '0x1f'), 31n);
  t.equal(seen('eth_getBlockByNumber', ['latest', false], { number: '0x10', hash: '0xab' }), 16n);
  t.equal(seen('eth_getBlockByHash', [`0x${'ab'.repeat(32)}`, false], { number: '0x11' }), 17n);
  t.equal(seen('eth_getTransactionReceipt', [`0x${'cd'.repeat(32)}`], { blockNumber: '0x12', status: '0x1' }), 18n);
  t.equal(seen('eth_getTransactionByHash', [`0x${'cd'.repeat(32)}`], { blockNumber: null }), undefined, 'a pending transaction shows no block');
  t.equal(seen('eth_getLogs', [{}], [{ blockNumber: '0x3' }, { blockNumber: '0x9' }, { blockNumber: '0x5' }]), 9n, 'highest log block');
  t.equal(seen('eth_getTransactionReceipt', [`0x${'cd'.repeat(32)}`], null), undefined);
  t.equal(seen('eth_call', [{ to: '0x00' }, 'latest'], '0x1234'), undefined, 'an eth_call shows no block');
  t.equal(seen('eth_getBalance', ['0x00', 'latest'], '0x99'), undefined);
  const err = { ...ok({ code: -32000 }), rpcError: true };
  t.equal(evmJsonRpc.observe(rpcCall(evmJsonRpc, 'eth_blockNumber', []), err), undefined, 'errors show nothing');
});

t.test('Aptos: committed transactions, ledger info; never the header of a keyed read', async (t) => {
  t.equal(aptosRest.observe(restCall('/v1/transactions/by_hash/0xab'), ok({ type: 'user_transaction', version: '1234' })), 1234n);
  t.equal(aptosRest.observe(restCall('/v1/transactions/by_hash/0xab'), ok({ type: 'pending_transaction', hash: '0xab' })), undefined, 'pending: no version');
  t.equal(aptosRest.observe(restCall('/v1/transactions/wait_by_hash/0xab'), ok({ type: 'user_transaction', version: '77' })), 77n);
  t.equal(aptosRest.observe(restCall('/v1/transactions/by_version/55'), ok({ type: 'user_transaction', version: '55' })), 55n);
  t.equal(aptosRest.observe(restCall('/v1/accounts/0x1/transactions'), ok([{ version: '10' }, { version: '30' }, { version: '20' }])), 30n);
  t.equal(aptosRest.observe(restCall('/v1'), ok({ chain_id: 4, ledger_version: '9000' })), 9000n);
  t.equal(aptosRest.observe(restCall('/v1/accounts/0x1/resources'), ok([], { 'x-aptos-ledger-version': '9999' })), undefined, 'a keyed read\'s header is not a floor source');
  t.equal(aptosRest.observe(restCall('/v1/transactions/by_hash/0xab'), { status: 404, headers: {}, body: Buffer.from('{}') }), undefined);
});

t.test('Neo: getblockcount - 1, block index, transaction height', async (t) => {
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getblockcount', []), { status: 200, headers: {}, body: Buffer.from('1001') }), 1000n);
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getblock', [12, true]), ok({ index: 12, hash: '0x1' })), 12n);
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getblockcount', []), { status: 200, headers: {}, body: Buffer.from('0') }), undefined);
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'gettransactionheight', [HASH]), { status: 200, headers: {}, body: Buffer.from('40') }), 40n, 'the block a transaction is in');
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getblock', [77, false]), ok('AAAA')), 77n, 'a raw block by index that answered exists');
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getblockhash', [78]), ok(HASH)), 78n);
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getblock', [HASH, false]), ok('AAAA')), undefined, 'a raw block by hash names no index');
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getblock', [79, false]), { status: 200, headers: {}, rpcError: true, body: Buffer.from('{"code":-101,"message":"Unknown block"}') }), undefined);
});

t.test('Neo: a transaction shown mined without a height (the node is asked for its head)', async (t) => {
  const mined = neoJsonRpc.minedWithoutHeight!;
  // C# RpcServer / neo-go: blockhash, confirmations, blocktime once in a block; none in the mempool.
  const inBlock = ok({ hash: HASH, blockhash: HASH, confirmations: 3, blocktime: 1 });
  t.equal(neoJsonRpc.observe(rpcCall(neoJsonRpc, 'getrawtransaction', [HASH, true]), inBlock), undefined, 'no height in the answer');
  t.equal(mined(rpcCall(neoJsonRpc, 'getrawtransaction', [HASH, true]), inBlock), true);
  t.equal(mined(rpcCall(neoJsonRpc, 'getrawtransaction', [HASH, true]), ok({ hash: HASH })), false, 'in the mempool');
  t.equal(mined(rpcCall(neoJsonRpc, 'getrawtransaction', [HASH, false]), ok('AAAA')), false, 'raw bytes do not say');
  t.equal(mined(rpcCall(neoJsonRpc, 'getapplicationlog', [HASH]), ok({ txid: HASH, executions: [] })), true, 'a log exists once persisted');
  t.equal(mined(rpcCall(neoJsonRpc, 'getapplicationlog', [HASH]), { status: 200, headers: {}, rpcError: true, body: Buffer.from('{"code":-100,"message":"Unknown transaction/blockhash"}') }), false);
  t.equal(mined(rpcCall(neoJsonRpc, 'invokefunction', [HASH.slice(0, 42), 'symbol', []]), ok({ state: 'HALT', stack: [] })), false);
});
