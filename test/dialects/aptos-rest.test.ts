import t from 'tap';
import { aptosRest as aptos } from '../../src/dialects/aptos-rest.js';
import { fromV1 } from '../../src/dialects/aptos-routes.js';
import type { Call, CallAnswer, InboundRequest } from '../../src/dialects/types.js';

const limits = { maxJsonDepth: 32, maxBatchLength: 100 };
const RES = '0x1::coin::CoinStore%3C0x1::aptos_coin::AptosCoin%3E';
const VIEW_BODY = '{"function":"0x1::coin::balance","type_arguments":["0x1::aptos_coin::AptosCoin"],"arguments":["0x1"]}';

function req(method: string, target: string, headers: InboundRequest['headers'] = {}, body = ''): InboundRequest {
  const [path = '', query = ''] = target.split('?');
  return { method, path, query, headers, body: Buffer.from(body) };
}
function call(method: string, target: string, headers: InboundRequest['headers'] = {}, body = ''): Call {
  const p = aptos.parse(req(method, target, headers, body), limits);
  if (p.kind !== 'rest') throw new Error('expected rest');
  return p.call;
}
const view = (query = '', headers: InboundRequest['headers'] = { 'content-type': 'application/json' }, body = VIEW_BODY) =>
  call('POST', `/v1/view${query}`, headers, body);

t.test('plan', async (t) => {
  const rows: Array<[string, string, ReturnType<typeof aptos.plan>]> = [
    ['GET', '/v1', { mode: 'parse' }],
    ['GET', `/v1/accounts/0x1/resource/${RES}`, { mode: 'parse' }],
    ['GET', '/rpc/aptos/v1/accounts/0x1/resources', { mode: 'parse' }],
    ['GET', '/v1/transactions/by_hash/0xab', { mode: 'parse' }],
    ['GET', '/v1/transactions/wait_by_hash/0xab', { mode: 'parse' }],
    ['POST', '/v1/view', { mode: 'parse' }],
    ['POST', '/v1/tables/0xabc/item', { mode: 'parse' }],
    ['HEAD', '/v1/accounts/0x1', { mode: 'parse' }],
    ['HEAD', '/v1', { mode: 'parse' }],
    ['HEAD', '/v1/spec', { mode: 'passthrough', write: false }],
    ['HEAD', '/v1/view', { mode: 'passthrough', write: false }],
    ['GET', '/v1/spec', { mode: 'passthrough', write: false }],
    ['GET', '/v1/estimate_gas_price', { mode: 'passthrough', write: false }],
    ['GET', '/v1/transactions', { mode: 'passthrough', write: false }],
    ['GET', '/metrics', { mode: 'passthrough', write: false }],
    ['POST', '/v1/transactions', { mode: 'passthrough', write: true }],
    ['POST', '/v1/transactions/batch', { mode: 'passthrough', write: true }],
    ['POST', '/v1/transactions/simulate', { mode: 'passthrough', write: false }],
    ['POST', '/v1/transactions/encode_submission', { mode: 'passthrough', write: false }],
    ['POST', '/v1/estimate_gas_price', { mode: 'passthrough', write: false }],
    ['POST', '/v1/accounts/0x1', { mode: 'passthrough', write: true }],
    ['PUT', '/v1/view', { mode: 'passthrough', write: true }],
    ['DELETE', '/anything', { mode: 'passthrough', write: true }],
    ['GET', '/v1x/accounts/0x1', { mode: 'passthrough', write: false }],
  ];
  for (const [method, path, want] of rows) t.same(aptos.plan(method, path), want, `${method} ${path}`);
  t.equal(fromV1('/a/v1/b'), '/v1/b');
  t.equal(fromV1('/a/v10/b'), undefined);
});

t.test("a HEAD on a GET route is the GET's read: same class, key and upstream GET", async (t) => {
  for (const target of [`/v1/accounts/0x1/resource/${RES}?ledger_version=5`, '/v1', '/v1/transactions/by_version/9', '/v1/accounts/0x1/resource/x?ledger_version=abc']) {
    const get = call('GET', target, { accept: 'application/json' });
    const head = call('HEAD', target, { accept: 'application/json' });
    t.equal(head.cls, get.cls, `${target}: class`);
    t.equal(head.pin, get.pin, `${target}: pin`);
    t.equal(head.keyMaterial, get.keyMaterial, `${target}: key`);
    t.same(head.rest?.payload, get.rest?.payload, `${target}: the node is asked the GET`);
    t.equal(head.rest?.payload.method, 'GET');
  }
});

t.test('classification table', async (t) => {
  const rows: Array<[string, string, Partial<Call> & { pinnable?: boolean }]> = [
    ['GET', '/v1', { cls: 'head', name: 'ledger_info', pinnable: false }],
    ['GET', '/v1/accounts/0x1', { cls: 'head', name: 'account', pinnable: true }],
    ['GET', '/v1/accounts/0x1?ledger_version=5', { cls: 'immutable', name: 'account', pin: 5n, pinnable: false }],
    ['GET', `/v1/accounts/0x1/resource/${RES}`, { cls: 'head', name: 'account_resource', pinnable: true }],
    ['GET', `/v1/accounts/0x1/resource/${RES}?ledger_version=9`, { cls: 'immutable', pin: 9n }],
    ['GET', '/v1/accounts/0x1/resources?limit=10', { cls: 'head', name: 'account_resources', pinnable: true }],
    ['GET', '/v1/accounts/0x1/module/coin', { cls: 'head', name: 'account_module', pinnable: true }],
    ['GET', '/v1/accounts/0x1/modules?ledger_version=3', { cls: 'immutable', name: 'account_modules', pin: 3n }],
    ['GET', '/v1/accounts/0x1/balance/0x1::aptos_coin::AptosCoin', { cls: 'head', name: 'account_balance', pinnable: true }],
    ['GET', '/v1/accounts/0x1/transactions?limit=5', { cls: 'head', name: 'account_transactions', pinnable: false }],
    ['GET', '/v1/accounts/0x1/events/0', { cls: 'head', name: 'events', pinnable: false }],
    ['GET', '/v1/accounts/0x1/events/0x1::account::Account/coin_register_events', { cls: 'head', name: 'events' }],
    ['GET', '/v1/transactions/by_hash/0xab', { cls: 'immutable', name: 'tx_by_hash', pin: undefined }],
    ['GET', '/v1/transactions/wait_by_hash/0xab', { cls: 'immutable', name: 'tx_wait_by_hash', coalesceOnly: true }],
    ['GET', '/v1/transactions/by_version/42', { cls: 'immutable', name: 'tx_by_version', pin: 42n }],
    ['GET', '/v1/blocks/by_height/7?with_transactions=true', { cls: 'immutable', name: 'block_by_height', pin: undefined }],
    ['GET', '/v1/blocks/by_version/70', { cls: 'immutable', name: 'block_by_version', pin: 70n }],
    ['POST', '/v1/view', { cls: 'head', name: 'view', pinnable: true }],
    ['POST', '/v1/view?ledger_version=11', { cls: 'immutable', name: 'view', pin: 11n }],
    ['POST', '/v1/tables/0xabc/item', { cls: 'head', name: 'table_item', pinnable: true }],
    ['GET', '/v1/spec', { cls: 'uncached', name: 'other' }],
    ['GET', '/v1/transactions?start=1', { cls: 'uncached', name: 'other' }],
    ['POST', '/v1/transactions', { cls: 'write', name: 'tx_submit' }],
    ['POST', '/v1/transactions/batch', { cls: 'write', name: 'tx_submit_batch' }],
    ['POST', '/v1/transactions/simulate', { cls: 'uncached', name: 'tx_simulate' }],
    ['POST', '/v1/transactions/encode_submission', { cls: 'uncached', name: 'tx_encode' }],
    ['PATCH', '/v1/whatever', { cls: 'write', name: 'other' }],
  ];
  for (const [method, target, want] of rows) {
    const c = call(method, target, { 'content-type': 'application/json' }, method === 'POST' ? VIEW_BODY : '');
    const { pinnable, ...fields } = want;
    t.match(c, fields, `${method} ${target}`);
    if (pinnable !== undefined) t.equal(c.rest?.pinnedPayload !== undefined, pinnable, `${target} pinnable`);
    if (want.pin === undefined && 'pin' in want) t.equal(c.pin, undefined, `${target} has no pin`);
  }
  t.equal(call('GET', '/v1/transactions/by_hash/0xab', { accept: 'application/x-bcs' }).cls, 'uncached', 'BCS by_hash is never stored');
});

t.test('head reads pinned to H share the key of explicit reads at H', async (t) => {
  const head = call('GET', '/v1/accounts/0x1/resources?limit=10&start=abc');
  const pinned = call('GET', '/v1/accounts/0x1/resources?start=abc&ledger_version=0012&limit=10');
  t.equal(head.keyMaterial, pinned.keyMaterial);
  t.equal(pinned.pin, 12n);
  t.equal(head.rest?.payload.pathAndQuery, '/v1/accounts/0x1/resources?limit=10&start=abc');
  t.equal(head.rest?.pinnedPayload?.(12n).pathAndQuery, '/v1/accounts/0x1/resources?limit=10&start=abc&ledger_version=12');
  t.equal(pinned.rest?.payload.pathAndQuery, '/v1/accounts/0x1/resources?limit=10&start=abc&ledger_version=12', 'normalised ledger_version');
  const v = view('');
  const vp = view('?ledger_version=12');
  t.equal(v.keyMaterial, vp.keyMaterial);
  t.same(v.rest?.pinnedPayload?.(12n), vp.rest?.payload);
});

t.test('key material and forwarded payload', async (t) => {
  const base = call('GET', `/v1/accounts/0x1/resource/${RES}`);
  t.equal(call('GET', `/aptos/mainnet/v1/accounts/0x1/resource/${RES}`).keyMaterial, base.keyMaterial, 'route prefix ignored');
  t.equal(call('GET', `/aptos/mainnet/v1/accounts/0x1/resource/${RES}`).rest?.payload.pathAndQuery, `/v1/accounts/0x1/resource/${RES}`);
  const noisy = call('GET', `/v1/accounts/0x1/resource/${RES}?_=123&cb=x&limit=5`);
  t.equal(noisy.keyMaterial, base.keyMaterial, 'unknown and inapplicable params are dropped from the key');
  t.equal(noisy.rest?.payload.pathAndQuery, `/v1/accounts/0x1/resource/${RES}`, '... and from the forwarded request');
  t.not(call('GET', '/v1/accounts/0x1/resources?limit=5').keyMaterial, call('GET', '/v1/accounts/0x1/resources?limit=6').keyMaterial);
  t.equal(call('GET', '/v1/accounts/0x1/resources?limit=5&start=a').keyMaterial, call('GET', '/v1/accounts/0x1/resources?start=a&limit=5').keyMaterial);
  t.not(call('GET', '/v1/blocks/by_height/1?with_transactions=true').keyMaterial, call('GET', '/v1/blocks/by_height/1').keyMaterial);
  t.not(call('GET', '/v1/accounts/0x1').keyMaterial, call('GET', '/v1/accounts/0x2').keyMaterial);

  const bcs = call('GET', '/v1/accounts/0x1', { accept: 'application/x-bcs' });
  t.not(bcs.keyMaterial, call('GET', '/v1/accounts/0x1').keyMaterial, 'BCS and JSON answers never share an entry');
  t.equal(call('GET', '/v1/accounts/0x1', { accept: '*/*' }).keyMaterial, call('GET', '/v1/accounts/0x1', { accept: 'application/json' }).keyMaterial);
  t.same(bcs.rest?.payload.headers, { accept: 'application/x-bcs' }, 'Accept forwarded as normalised');

  const headers = { 'content-type': 'application/json; charset=utf-8', authorization: 'Bearer s', cookie: 'a=b', 'x-custom': '1' };
  const v = view('', headers);
  t.equal(v.keyMaterial, view('').keyMaterial, 'content-type parameters do not matter');
  t.same(v.rest?.payload.headers, { accept: 'application/json', 'content-type': 'application/json' }, 'only accept and content-type are forwarded');
  t.equal(v.rest?.payload.body?.toString(), VIEW_BODY, 'the raw body is forwarded');
  t.not(view('', undefined, VIEW_BODY.replace('"0x1"]', '"0x2"]')).keyMaterial, v.keyMaterial, 'the body is part of the key');
  t.not(view('', undefined, VIEW_BODY.replace(':', ' : ')).keyMaterial, v.keyMaterial, 'raw body bytes, not parsed JSON');
  const bcsView = view('', { 'content-type': 'application/x.aptos.view_function+bcs' }, '\u0001\u0002');
  t.not(bcsView.keyMaterial, view('', undefined, '\u0001\u0002').keyMaterial, 'content-type is part of the key');
  t.equal(bcsView.rest?.payload.headers['content-type'], 'application/x.aptos.view_function+bcs');
  t.equal(call('GET', '/v1/accounts/0x1', {}, 'ignored').rest?.payload.body, undefined, 'no body on GET');
  t.equal(call('GET', '/v1/spec?x=1').rest?.payload.pathAndQuery, '/v1/spec?x=1', 'unknown endpoints forwarded as sent');
});

t.test('versions the proxy cannot read go to the node as written, never stored', async (t) => {
  for (const q of ['abc', '-1', '1.0', '', '18446744073709551616', '0x10', '1&ledger_version=2']) {
    const c = call('GET', `/v1/accounts/0x1?ledger_version=${q}`);
    t.equal(c.cls, 'uncached', `ledger_version=${q}`);
    t.equal(c.rest?.payload.pathAndQuery, `/v1/accounts/0x1?ledger_version=${q}`, 'the query as sent');
    t.equal(c.name, 'account');
  }
  t.equal(call('GET', '/v1/accounts/0x1?ledger_version=18446744073709551615').pin, 18446744073709551615n);
  t.equal(call('GET', '/v1/transactions/by_version/abc').cls, 'uncached');
  t.equal(call('GET', '/v1/blocks/by_version/-1').cls, 'uncached');
  const view = call('POST', '/v1/view?ledger_version=x');
  t.equal(view.cls, 'uncached', 'a view stays a read (not a write) when its version is odd');
});

t.test('isCacheable', async (t) => {
  const ans = (status: number, body: unknown, headers: CallAnswer['headers'] = {}): CallAnswer => ({
    status,
    headers,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const res = call('GET', `/v1/accounts/0x1/resource/${RES}`);
  t.equal(aptos.isCacheable(res, ans(200, { type: 'x', data: {} })), true);
  t.equal(aptos.isCacheable(res, ans(404, { error_code: 'resource_not_found' })), false);
  t.equal(aptos.isCacheable(res, ans(500, {})), false);
  t.equal(aptos.isCacheable(res, ans(200, {}, { 'set-cookie': ['s=1'] })), false);
  const byHash = call('GET', '/v1/transactions/by_hash/0xab');
  t.equal(aptos.isCacheable(byHash, ans(200, { type: 'user_transaction', version: '5' })), true);
  t.equal(aptos.isCacheable(byHash, ans(200, { type: 'pending_transaction', hash: '0xab' })), false, 'pending');
  t.equal(aptos.isCacheable(byHash, ans(404, { error_code: 'transaction_not_found' })), false, 'not found yet');
  t.equal(aptos.isCacheable(byHash, ans(200, '\u0001\u0002')), false, 'not JSON');
  t.equal(aptos.isCacheable(byHash, ans(200, { version: '5' })), false, 'no type');
  const wait = call('GET', '/v1/transactions/wait_by_hash/0xab');
  t.equal(aptos.isCacheable(wait, ans(200, { type: 'user_transaction' })), false, 'coalesce-only is never stored');
});

t.test('node facts from headers, and the head from the poll', async (t) => {
  t.same(aptos.nodeFacts({ 'x-aptos-ledger-version': '123456789012345678' }), { head: 123456789012345678n });
  t.same(aptos.nodeFacts({ 'x-aptos-ledger-version': ['77', '78'] }), { head: 77n });
  t.same(aptos.nodeFacts({ 'x-aptos-ledger-version': 'nope' }), {});
  t.same(aptos.nodeFacts({}), {});
  t.same(aptos.nodeFacts({ 'x-aptos-ledger-version': '500', 'x-aptos-ledger-oldest-version': '100' }), { head: 500n, oldest: 100n });
  t.same(aptos.nodeFacts({ 'x-aptos-ledger-oldest-version': '-1' }), {}, 'not a u64: no fact');
  t.equal(aptos.prunedStatus(410), true, '410 Gone: pruned');
  t.equal(aptos.prunedStatus(404), false);
  t.equal(aptos.keyFromRequestBytes, true);
  const poll = aptos.headPoll();
  t.same(poll.payload, { method: 'GET', pathAndQuery: '/v1', headers: { accept: 'application/json' } });
  t.equal(poll.parse(200, Buffer.from('{"chain_id":1,"epoch":"9","ledger_version":"987654321","block_height":"5"}')), 987654321n);
  t.equal(poll.parse(200, Buffer.from('{"ledger_version":987}')), undefined, 'Aptos sends versions as strings');
  t.equal(poll.parse(503, Buffer.from('{"ledger_version":"1"}')), undefined);
  t.equal(poll.parse(200, Buffer.from('<html>')), undefined);
});

t.test('storableHeaders keeps content-type and x-aptos-* only, sorted by name', async (t) => {
  const out = aptos.storableHeaders({
    'x-aptos-ledger-version': '100',
    'set-cookie': ['s=1'],
    'content-type': 'application/json; charset=utf-8',
    'x-aptos-chain-id': '4',
    'x-aptos-block-height': '25',
    date: 'today',
    'content-length': '10',
    'content-encoding': 'gzip',
    'cache-control': 'max-age=1',
    'x-request-id': 'abc',
    'x-aptosnot': 'no',
    'x-aptos-array': ['1', '2'],
    'x-aptos-undefined': undefined,
  });
  t.same(out, [
    ['content-type', 'application/json; charset=utf-8'],
    ['x-aptos-block-height', '25'],
    ['x-aptos-chain-id', '4'],
    ['x-aptos-ledger-version', '100'],
  ]);
});

t.test('storableHeaders is stable whatever the input order', async (t) => {
  const a = aptos.storableHeaders({ 'x-aptos-b': '2', 'content-type': 'x', 'x-aptos-a': '1' });
  const b = aptos.storableHeaders({ 'x-aptos-a': '1', 'x-aptos-b': '2', 'content-type': 'x' });
  t.same(a, b);
  t.same(aptos.storableHeaders({}), []);
});

t.test('nodeFacts gives each answer its own texts\' facts, whatever the previous answer was', async (t) => {
  const facts = (head?: string | string[], oldest?: string | string[]) => {
    const h: Record<string, string | string[] | undefined> = {};
    if (head !== undefined) h['x-aptos-ledger-version'] = head;
    if (oldest !== undefined) h['x-aptos-ledger-oldest-version'] = oldest;
    return aptos.nodeFacts(h);
  };
  t.same(facts('500', '100'), { head: 500n, oldest: 100n });
  t.same(facts('500', '100'), { head: 500n, oldest: 100n }, 'the same texts again');
  t.same(facts('500'), { head: 500n }, 'the oldest gone');
  t.same(facts('500', '101'), { head: 500n, oldest: 101n }, 'another oldest');
  t.same(facts('501', '101'), { head: 501n, oldest: 101n }, 'another head');
  t.same(facts(['501', '9'], '101'), { head: 501n, oldest: 101n }, 'repeated head header: the first');
  t.same(facts(['502'], '101'), { head: 502n, oldest: 101n });
  t.same(facts(undefined, '101'), { oldest: 101n }, 'no head');
  t.same(facts('x', '101'), { oldest: 101n }, 'a head that is no u64');
  t.same(facts('501', '101'), { head: 501n, oldest: 101n });
  t.ok(Object.isFrozen(facts('501', '101')), 'kept facts cannot be changed by a reader');
});
