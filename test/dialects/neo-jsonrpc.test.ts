import t from 'tap';
import { InvalidParamsError } from '../../src/errors.js';
import { neoJsonRpc as neo } from '../../src/dialects/neo-jsonrpc.js';
import type { Call, CallAnswer } from '../../src/dialects/types.js';

const limits = { maxJsonDepth: 32, maxBatchLength: 100 };
const HASH = `0x${'ab'.repeat(32)}`;

function call(method: string, params?: string, id = '1'): Call {
  const p = params === undefined ? '' : `,"params":${params}`;
  const body = Buffer.from(`{"jsonrpc":"2.0","id":${id},"method":"${method}"${p}}`);
  const parsed = neo.parse({ method: 'POST', path: '/', query: '', headers: {}, body }, limits);
  if (parsed.kind !== 'jsonrpc' || parsed.calls[0] === undefined) throw new Error('expected one call');
  return parsed.calls[0];
}

t.test('classification table', async (t) => {
  const rows: Array<[string, string | undefined, { cls: string; pin?: bigint; affinity?: string }]> = [
    ['invokefunction', `["${HASH}","balanceOf",[{"type":"Hash160","value":"0x1"}]]`, { cls: 'head' }],
    ['invokescript', '["AAEC"]', { cls: 'head' }],
    ['getblock', '[12]', { cls: 'immutable', pin: 12n }],
    ['getblock', '[12, false]', { cls: 'immutable', pin: 12n }],
    ['getblock', '[12, 0]', { cls: 'immutable', pin: 12n }],
    ['getblock', '["12"]', { cls: 'immutable', pin: 12n }],
    ['getblock', `["${HASH}"]`, { cls: 'immutable' }],
    ['getblock', `["${HASH}", false]`, { cls: 'immutable' }],
    ['getblock', '[12, true]', { cls: 'head', pin: 12n }],
    ['getblock', '[12, 1]', { cls: 'head', pin: 12n }],
    ['getblock', '[12, "false"]', { cls: 'head', pin: 12n }],
    ['getblock', `["${HASH}", true]`, { cls: 'head' }],
    ['getblockheader', '[7]', { cls: 'immutable', pin: 7n }],
    ['getblockheader', '[7, true]', { cls: 'head', pin: 7n }],
    // A mempool transaction is answered too, and may expire: never immutable.
    ['getrawtransaction', `["${HASH}"]`, { cls: 'head' }],
    ['getrawtransaction', `["${HASH}", false]`, { cls: 'head' }],
    ['getrawtransaction', `["${HASH}", true]`, { cls: 'head' }],
    ['getrawtransaction', `["${HASH}", 1]`, { cls: 'head' }],
    ['getblockhash', '[100]', { cls: 'immutable', pin: 100n }],
    ['getblockhash', '["100"]', { cls: 'immutable', pin: 100n }],
    ['getapplicationlog', `["${HASH}"]`, { cls: 'immutable' }],
    ['getblockcount', undefined, { cls: 'head' }],
    ['getbestblockhash', '[]', { cls: 'head' }],
    ['getnep17balances', '["NaddR"]', { cls: 'head' }],
    ['getnep11balances', '["NaddR"]', { cls: 'head' }],
    ['getcontractstate', '[-6]', { cls: 'head' }],
    ['getstorage', '["0x1","AQ=="]', { cls: 'head' }],
    ['getunclaimedgas', '["NaddR"]', { cls: 'head' }],
    ['getversion', '[]', { cls: 'head' }],
    ['getnep17transfers', '["NaddR"]', { cls: 'uncached' }],
    ['getpeers', '[]', { cls: 'uncached' }],
    ['getconnectioncount', '[]', { cls: 'uncached' }],
    ['getrawmempool', '[]', { cls: 'uncached' }],
    ['validateaddress', '["NaddR"]', { cls: 'uncached' }],
    ['calculatenetworkfee', '["AAEC"]', { cls: 'uncached' }],
    ['sendrawtransaction', '["AAEC"]', { cls: 'write' }],
    ['submitblock', '["AAEC"]', { cls: 'write' }],
    ['traverseiterator', '["s","i",10]', { cls: 'uncached', affinity: 's' }],
    ['terminatesession', '["s"]', { cls: 'uncached', affinity: 's' }],
    ['gettransactionheight', `["${HASH}"]`, { cls: 'immutable' }],
    ['getstateroot', '[5]', { cls: 'immutable', pin: 5n }],
    ['getproof', `["${HASH}","0x1","AQ=="]`, { cls: 'immutable' }],
    ['verifyproof', `["${HASH}","AQ=="]`, { cls: 'immutable' }],
    ['getstate', `["${HASH}","0x1","AQ=="]`, { cls: 'immutable' }],
    ['findstates', `["${HASH}","0x1","AQ=="]`, { cls: 'immutable' }],
    ['getstateheight', '[]', { cls: 'head' }],
    ['getcommittee', '[]', { cls: 'head' }],
    ['getnativecontracts', '[]', { cls: 'head' }],
    ['getnextblockvalidators', '[]', { cls: 'head' }],
    ['getcandidates', '[]', { cls: 'head' }],
    ['getblockheadercount', '[]', { cls: 'head' }],
    ['findstorage', '["0x1","AQ=="]', { cls: 'head' }],
    ['invokecontractverify', '["0x1",[],[]]', { cls: 'head' }],
    ['invokefunctionhistoric', `[7,"${HASH}","balanceOf",[]]`, { cls: 'immutable', pin: 7n }],
    ['invokefunctionhistoric', `["${HASH}","${HASH}","balanceOf",[]]`, { cls: 'immutable' }],
    ['invokescripthistoric', '[7,"AAEC"]', { cls: 'immutable', pin: 7n }],
    ['getstoragehistoric', '[7,"0x1","AQ=="]', { cls: 'immutable', pin: 7n }],
    ['findstoragehistoric', `["${HASH}","0x1","AQ=="]`, { cls: 'immutable' }],
    ['getblocksysfee', '[7]', { cls: 'immutable', pin: 7n }],
    ['getblocknotifications', `["${HASH}"]`, { cls: 'immutable' }],
    ['listplugins', '[]', { cls: 'uncached' }],
    ['getrawnotarypool', '[]', { cls: 'uncached' }],
    ['submitoracleresponse', '[]', { cls: 'write' }],
    ['submitnotaryrequest', '[]', { cls: 'write' }],
    ['openwallet', '["w","p"]', { cls: 'write' }],
    ['somethingnew', '[]', { cls: 'write' }],
  ];
  for (const [method, params, want] of rows) {
    const c = call(method, params);
    t.equal(c.reject, undefined, `${method} ${params ?? ''} accepted`);
    t.same({ cls: c.cls, pin: c.pin }, { cls: want.cls, pin: want.pin }, `${method} ${params ?? ''}`);
    t.equal(c.rpc?.canPin, false, 'Neo reads take no height: never forwarded pinned');
  }
});

t.test('invalid params reject the call', async (t) => {
  for (const [method, params] of [
    ['getblockhash', '["abc"]'],
    ['getblockhash', '[-1]'],
    ['getblockhash', '[1.5]'],
    ['getblockhash', '[4294967296]'],
    ['getblockhash', '[]'],
    ['getblock', '[]'],
    ['getblock', '[true]'],
    ['getblock', '{"index":1}'],
  ] as const) {
    t.ok(call(method, params).reject instanceof InvalidParamsError, `${method} ${params}`);
  }
});

t.test('key material', async (t) => {
  const a = call('invokefunction', '["0x1","balanceOf",[{"type":"Hash160","value":"0x2"}]]', '1');
  const b = call('invokefunction', '[ "0x1" , "balanceOf" , [ { "value" : "0x2" , "type" : "Hash160" } ] ]', '"other"');
  t.equal(a.keyMaterial, b.keyMaterial, 'member order, whitespace and id do not matter');
  t.not(call('getblock', '[12]').keyMaterial, call('getblock', '[13]').keyMaterial);
  t.not(call('getblock', '[12, true]').keyMaterial, call('getblock', '[12]').keyMaterial);
  t.not(call('invokescript', '["AAEC"]').keyMaterial, call('invokefunction', '["AAEC"]').keyMaterial);
});

t.test('isCacheable', async (t) => {
  const ans = (body: unknown, extra: Partial<CallAnswer> = {}): CallAnswer => ({
    status: 200,
    headers: {},
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    ...extra,
  });
  const invoke = call('invokefunction', '["0x1","symbol",[]]');
  const halt = { script: 'AA', state: 'HALT', gasconsumed: '984060', stack: [{ type: 'ByteString', value: 'TkVP' }] };
  t.equal(neo.isCacheable(invoke, ans(halt)), true);
  t.equal(neo.isCacheable(invoke, ans({ ...halt, session: 'b9c5c8e5' })), false, 'iterator session');
  t.equal(neo.isCacheable(invoke, ans({ ...halt, stack: [{ type: 'InteropInterface', interface: 'IIterator', id: 'x' }] })), false);
  t.equal(
    neo.isCacheable(invoke, ans({ ...halt, stack: [{ type: 'Array', value: [{ type: 'Integer', value: '1' }, { type: 'InteropInterface' }] }] })),
    false,
    'nested InteropInterface',
  );
  t.equal(
    neo.isCacheable(invoke, ans({ ...halt, stack: [{ type: 'Map', value: [{ key: { type: 'InteropInterface' }, value: { type: 'Integer', value: '1' } }] }] })),
    false,
    'InteropInterface as a map key',
  );
  t.equal(neo.isCacheable(invoke, ans('"not an object"')), false, 'not understood: not stored');
  t.equal(neo.isCacheable(invoke, ans(halt, { rpcError: true })), false);
  t.equal(neo.isCacheable(invoke, ans(halt, { status: 500 })), false);
  const block = call('getblock', '[1]');
  t.equal(neo.isCacheable(block, ans('"AAEC"')), true);
  t.equal(neo.isCacheable(block, ans('{"session":"not an invoke"}')), true, 'the session rule is for invokes only');
  t.equal(neo.isCacheable(block, ans('null')), false);
});

t.test('plan and head poll', async (t) => {
  t.same(neo.plan('POST', '/'), { mode: 'parse' });
  t.same(neo.plan('GET', '/ws'), { mode: 'passthrough', write: false });
  t.same(neo.nodeFacts({}), {});
  t.equal(neo.prunedStatus(410), false);
  const poll = neo.headPoll();
  t.match(JSON.parse(poll.payload.body?.toString() ?? ''), { method: 'getblockcount' });
  t.equal(poll.parse(200, Buffer.from('{"jsonrpc":"2.0","id":1,"result":1234}')), 1233n, 'head = count - 1');
  t.equal(poll.parse(200, Buffer.from('{"jsonrpc":"2.0","id":1,"result":0}')), undefined);
  t.equal(poll.parse(200, Buffer.from('{"jsonrpc":"2.0","id":1,"result":"12"}')), undefined);
  t.equal(poll.parse(200, Buffer.from('{"jsonrpc":"2.0","id":1,"error":{"code":-1}}')), undefined);
  t.equal(poll.parse(503, Buffer.from('{"jsonrpc":"2.0","id":1,"result":5}')), undefined);
});
