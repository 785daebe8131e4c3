import t from 'tap';
import { evmJsonRpc as evm } from '../../src/dialects/evm-jsonrpc.js';
import type { Call, CallAnswer } from '../../src/dialects/types.js';

const limits = { maxJsonDepth: 32, maxBatchLength: 100 };
const HASH = `0x${'ab'.repeat(32)}`;
const TX = '{"to":"0x00000000000000000000000000000000000000aa","data":"0x70a08231"}';

function call(method: string, params?: string, id = '1'): Call {
  const p = params === undefined ? '' : `,"params":${params}`;
  const parsed = evm.parse({ method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from(`{"jsonrpc":"2.0","id":${id},"method":"${method}"${p}}`) }, limits);
  if (parsed.kind !== 'jsonrpc' || parsed.calls[0] === undefined) throw new Error('expected one call');
  return parsed.calls[0];
}

const summary = (c: Call) => ({
  cls: c.cls,
  pin: c.pin,
  reorgable: c.reorgable === true,
  canPin: c.rpc?.canPin === true,
  reject: c.reject?.constructor.name,
});

t.test('classification table', async (t) => {
  type Row = [string, string | undefined, Partial<ReturnType<typeof summary>>];
  const rows: Row[] = [
    ['eth_call', `[${TX},"0x10"]`, { cls: 'immutable', pin: 16n, reorgable: true, canPin: false }],
    ['eth_call', `[${TX},"latest"]`, { cls: 'head', pin: undefined, canPin: true, reorgable: true }],
    ['eth_call', `[${TX}]`, { cls: 'uncached', canPin: false }],
    ['eth_call', `[${TX},null]`, { cls: 'uncached', canPin: false }],
    ['eth_call', `[${TX},"${HASH}"]`, { cls: 'immutable', pin: undefined, reorgable: false }],
    ['eth_call', `[${TX},{"blockNumber":"0x10","requireCanonical":true}]`, { cls: 'immutable', pin: 16n, reorgable: true }],
    ['eth_call', `[${TX},"pending"]`, { cls: 'uncached', canPin: false }],
    ['eth_call', `[${TX},"safe"]`, { cls: 'head', canPin: false, reorgable: false }],
    ['eth_call', `[${TX},"finalized"]`, { cls: 'head', canPin: false }],
    ['eth_call', `[${TX},"earliest"]`, { cls: 'immutable', pin: 0n, reorgable: false }],
    ['eth_call', `[${TX},{"blockHash":"${HASH}"}]`, { cls: 'immutable', pin: undefined, reorgable: false }],
    ['eth_call', `[${TX},{"blockHash":"${HASH}","requireCanonical":true}]`, { cls: 'uncached', pin: undefined }],
    ['eth_call', `[${TX},{"blockNumber":"0x2a"}]`, { cls: 'immutable', pin: 42n, reorgable: true }],
    ['eth_getBalance', '["0xaa","0xA"]', { cls: 'immutable', pin: 10n }],
    ['eth_getCode', '["0xaa","latest"]', { cls: 'head', canPin: true }],
    ['eth_getStorageAt', '["0xaa","0x0","0x5"]', { cls: 'immutable', pin: 5n }],
    ['eth_getStorageAt', '["0xaa","0x0"]', { cls: 'uncached', canPin: false }],
    ['eth_getTransactionCount', '["0xaa","pending"]', { cls: 'uncached' }],
    ['eth_getProof', '["0xaa",[],"0x7"]', { cls: 'immutable', pin: 7n }],
    ['eth_getBlockByNumber', '["0x1b4",false]', { cls: 'immutable', pin: 436n, reorgable: true }],
    ['eth_getBlockByNumber', '["latest",true]', { cls: 'head', canPin: true }],
    ['eth_getTransactionByBlockNumberAndIndex', '["0x1","0x0"]', { cls: 'immutable', pin: 1n }],
    ['eth_getBlockTransactionCountByNumber', '["finalized"]', { cls: 'head', canPin: false }],
    ['eth_getUncleCountByBlockNumber', '["0x3"]', { cls: 'immutable', pin: 3n }],
    ['eth_estimateGas', `[${TX},"0x10"]`, { cls: 'uncached' }],
    ['eth_getBlockByHash', `["${HASH}",false]`, { cls: 'immutable', pin: undefined }],
    ['eth_getTransactionByHash', `["${HASH}"]`, { cls: 'immutable' }],
    ['eth_getTransactionReceipt', `["${HASH}"]`, { cls: 'immutable' }],
    ['eth_getTransactionByBlockHashAndIndex', `["${HASH}","0x0"]`, { cls: 'immutable' }],
    ['eth_getBlockTransactionCountByHash', `["${HASH}"]`, { cls: 'immutable' }],
    ['eth_chainId', '[]', { cls: 'immutable' }],
    ['net_version', undefined, { cls: 'immutable' }],
    ['eth_blockNumber', '[]', { cls: 'head', canPin: false }],
    ['eth_gasPrice', '[]', { cls: 'head', canPin: false }],
    ['eth_maxPriorityFeePerGas', '[]', { cls: 'head' }],
    ['eth_blobBaseFee', '[]', { cls: 'head' }],
    ['eth_getLogs', '[{"fromBlock":"0x1","toBlock":"0x2"}]', { cls: 'uncached' }],
    ['eth_feeHistory', '["0x4","latest",[]]', { cls: 'uncached' }],
    ['eth_syncing', '[]', { cls: 'uncached' }],
    ['web3_clientVersion', '[]', { cls: 'uncached' }],
    ['net_peerCount', '[]', { cls: 'uncached' }],
    ['net_listening', '[]', { cls: 'uncached' }],
    ['eth_protocolVersion', '[]', { cls: 'uncached' }],
    ['eth_sendRawTransaction', '["0x02f8"]', { cls: 'write' }],
    ['eth_sendTransaction', `[${TX}]`, { cls: 'write' }],
    ['eth_sign', '["0xaa","0x00"]', { cls: 'write' }],
    ['eth_signTypedData_v4', '["0xaa","{}"]', { cls: 'write' }],
    ['personal_unlockAccount', '["0xaa","pw"]', { cls: 'write' }],
    ['eth_newFilter', '[{}]', { cls: 'write' }],
    ['eth_getFilterChanges', '["0x1"]', { cls: 'write' }],
    ['eth_uninstallFilter', '["0x1"]', { cls: 'write' }],
    ['eth_subscribe', '["newHeads"]', { cls: 'write' }],
    ['eth_unsubscribe', '["0x1"]', { cls: 'write' }],
    ['evm_mine', '[]', { cls: 'write' }],
    ['anvil_setBalance', '["0xaa","0x1"]', { cls: 'write' }],
    ['hardhat_reset', '[]', { cls: 'write' }],
  ];
  for (const [method, params, want] of rows) t.match(summary(call(method, params)), want, `${method} ${params ?? ''}`);
});

t.test('block params the proxy does not understand are forwarded as written, never stored', async (t) => {
  const odd = [
    '"0xzz"', '"0x"', '"12"', '12', 'true', '"Latest"', `"0x${'f'.repeat(17)}"`, `{"blockHash":"0x12"}`,
    `{"blockNumber":"0x1","extra":1}`, `{"blockHash":"${HASH}","requireCanonical":"yes"}`, '[]', 'null', '{"blockNumber":"latest"}',
  ];
  for (const b of odd) {
    const c = call('eth_getBalance', `["0xaa",${b}]`);
    t.match(summary(c), { cls: 'uncached', canPin: false, reject: undefined }, b);
    t.equal(c.rpc?.body(3), `{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0xaa",${b}]}`, `${b} forwarded as written`);
  }
  t.match(summary(call('eth_getBalance', '{"address":"0xaa"}')), { cls: 'uncached', reject: undefined }, 'named params: the node decides');
});

t.test('key material: latest at H equals pinned to H', async (t) => {
  const latest = call('eth_call', `[${TX},"latest"]`, '"a"');
  const omitted = call('eth_call', `[${TX}]`, '2');
  const pinned = call('eth_call', `[ {"data":"0x70a08231", "to":"0x00000000000000000000000000000000000000aa"} , "0x0a" ]`, '3');
  const pinnedShort = call('eth_call', `[${TX},"0xa"]`, '4');
  t.equal(latest.keyMaterial, pinnedShort.keyMaterial, 'id does not matter; block tag is a placeholder');
  t.not(latest.keyMaterial, omitted.keyMaterial, 'an omitted block param is not "latest": forwarded as written');
  t.equal(pinned.pin, 10n);
  t.equal(pinnedShort.pin, 10n);
  t.not(pinned.keyMaterial, pinnedShort.keyMaterial, '0x0a (leading zero: geth rejects it) has its own key');
  const reordered = call('eth_call', `[ {"data":"0x70a08231", "to":"0x00000000000000000000000000000000000000aa"} , "0xa" ]`, '5');
  t.equal(reordered.keyMaterial, pinnedShort.keyMaterial, 'member order and whitespace do not matter');
  t.not(call('eth_call', `[${TX},{"blockNumber":"0xa"}]`).keyMaterial, pinnedShort.keyMaterial, 'EIP-1898 number form: own key');
  t.not(call('eth_call', `[${TX},"safe"]`).keyMaterial, latest.keyMaterial, 'safe at H is another block than latest at H');
  t.not(call('eth_call', `[${TX},"finalized"]`).keyMaterial, call('eth_call', `[${TX},"safe"]`).keyMaterial);
  t.not(call('eth_getBalance', '["0xaa","latest"]').keyMaterial, call('eth_getCode', '["0xaa","latest"]').keyMaterial);
  const big1 = call('eth_call', '[{"to":"0xaa","value":12345678901234567890},"latest"]');
  const big2 = call('eth_call', '[{"to":"0xaa","value":12345678901234567891},"latest"]');
  t.not(big1.keyMaterial, big2.keyMaterial, 'big integers are not rounded');
  t.not(call('eth_getBlockByNumber', '["0x1",true]').keyMaterial, call('eth_getBlockByNumber', '["0x1",false]').keyMaterial);
  t.not(
    call('eth_call', `[${TX},{"blockHash":"${HASH}"}]`).keyMaterial,
    call('eth_call', `[${TX},{"blockHash":"0x${'cd'.repeat(32)}"}]`).keyMaterial,
    'blocks pinned by hash keep the hash in the key',
  );
});

t.test('forwarded body: latest pinned to the head, other params untouched', async (t) => {
  const c = call('eth_call', '[{"to":"0xaa","value":12345678901234567891},"latest",{"0xbb":{"balance":"0x1"}}]');
  t.equal(
    c.rpc?.body(7, 255n),
    '{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[{"to":"0xaa","value":12345678901234567891},"0xff",{"0xbb":{"balance":"0x1"}}]}',
  );
  t.equal(c.rpc?.body(8), '{"jsonrpc":"2.0","id":8,"method":"eth_call","params":[{"to":"0xaa","value":12345678901234567891},"latest",{"0xbb":{"balance":"0x1"}}]}');
  t.equal(call('eth_getBalance', '["0xaa"]').rpc?.canPin, false, 'an omitted block param is not pinned');
  t.equal(call('eth_getBlockByNumber', undefined).rpc?.body(1), '{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber"}');
  t.equal(call('eth_getBalance', '["0xaa","0x0a"]').rpc?.body(2), '{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0xaa","0x0a"]}', 'a pinned call is sent as written');
  const short = call('eth_getStorageAt', '["0xaa"]');
  t.match(summary(short), { cls: 'uncached', canPin: false }, 'too few params: forwarded as sent, not pinned');
});

t.test('isCacheable', async (t) => {
  const ok = (body: string, extra: Partial<CallAnswer> = {}): CallAnswer => ({ status: 200, headers: {}, body: Buffer.from(body), ...extra });
  const balance = call('eth_getBalance', '["0xaa","0x1"]');
  const txByHash = call('eth_getTransactionByHash', `["${HASH}"]`);
  const receipt = call('eth_getTransactionReceipt', `["${HASH}"]`);
  t.equal(evm.isCacheable(balance, ok('"0x10"')), true);
  t.equal(evm.isCacheable(balance, ok('"0x10"', { status: 500 })), false, 'error status');
  t.equal(evm.isCacheable(balance, ok('{"code":-32000}', { rpcError: true })), false, 'rpc error');
  t.equal(evm.isCacheable(receipt, ok('null')), false, 'not mined yet');
  t.equal(evm.isCacheable(receipt, ok(' null\n')), false);
  t.equal(evm.isCacheable(receipt, ok('{"blockNumber":"0x5","status":"0x1"}')), true);
  t.equal(evm.isCacheable(txByHash, ok('{"hash":"0x1","blockNumber":null,"blockHash":null}')), false, 'pending tx');
  t.equal(evm.isCacheable(txByHash, ok('{"hash":"0x1"}')), false, 'no blockNumber: not known to be mined');
  t.equal(evm.isCacheable(txByHash, ok('{"hash":"0x1","blockNumber":"0x5"}')), true, 'mined tx');
  t.equal(evm.isCacheable(txByHash, ok('null')), false);
});

t.test('plan, head poll, headers', async (t) => {
  t.same(evm.plan('POST', '/'), { mode: 'parse' });
  t.same(evm.plan('GET', '/'), { mode: 'passthrough', write: false });
  t.same(evm.nodeFacts({ 'x-aptos-ledger-version': '5' }), {});
  t.equal(evm.prunedStatus(410), false);
  t.same(evm.storableHeaders({ 'content-type': 'application/json', 'x-aptos-chain-id': '1' }), [['content-type', 'application/json']]);
  t.equal(evm.keyFromRequestBytes, false);
  const poll = evm.headPoll();
  t.equal(poll.payload.method, 'POST');
  t.same(JSON.parse(poll.payload.body?.toString() ?? ''), { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] });
  t.equal(poll.parse(200, Buffer.from('{"jsonrpc":"2.0","id":1,"result":"0x1b4"}')), 436n);
  t.equal(poll.parse(200, Buffer.from('{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}')), undefined);
  t.equal(poll.parse(502, Buffer.from('{"jsonrpc":"2.0","id":1,"result":"0x1"}')), undefined);
  t.equal(poll.parse(200, Buffer.from('<html>')), undefined);
  t.equal(poll.parse(200, Buffer.from('{"id":1,"result":"latest"}')), undefined);
});

t.test('call names are bounded', async (t) => {
  t.equal(call('eth_call', `[${TX}]`).name, 'eth_call');
  t.equal(call('anvil_setBalance', '[]').name, 'other');
  t.equal(call('personal_sign', '[]').name, 'other');
});
