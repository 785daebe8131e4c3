import t from 'tap';
import { InternalError, InvalidParamsError, InvalidRequestError, MalformedJsonError } from '../../src/errors.js';
import {
  ENVELOPE_SUFFIX,
  envelopePrefix,
  parseRpcRequest,
  rpcAnswerCacheable,
  rpcBatchText,
  rpcEnvelope,
  rpcErrorText,
  rpcKeyMaterial,
  type RpcSpec,
} from '../../src/dialects/jsonrpc.js';
import type { Call } from '../../src/dialects/types.js';

const limits = { maxJsonDepth: 16, maxBatchLength: 4 };
// A tiny dialect: `read` is cached, `bad` always rejects its params, anything else is a write.
const spec: RpcSpec = {
  knownMethods: new Set(['read', 'bad']),
  classify(method) {
    if (method === 'bad') throw new InvalidParamsError('bad params');
    return { cls: method === 'read' ? 'immutable' : 'write' };
  },
};
const parse = (text: string): { batch: boolean; calls: Call[] } => {
  const p = parseRpcRequest(Buffer.from(text), limits, spec);
  if (p.kind !== 'jsonrpc') throw new Error('expected jsonrpc');
  return p;
};
const one = (text: string): Call => {
  const c = parse(text).calls[0];
  if (c === undefined) throw new Error('no call');
  return c;
};

t.test('single call: id kept as raw text, not in the key', async (t) => {
  for (const id of ['1', '"abc"', 'null', '12345678901234567891', '1.0', '"\\u00e9"']) {
    const p = parse(`{"jsonrpc":"2.0","id":${id},"method":"read","params":[1]}`);
    t.equal(p.batch, false);
    const c = p.calls[0];
    t.equal(c?.rpc?.idRaw, id === '"\\u00e9"' ? '"é"' : id, `id ${id}`);
    t.equal(c?.rpc?.notification, false);
    t.equal(c?.keyMaterial, 'read\n[1]');
  }
});

t.test('notification: no id member', async (t) => {
  const c = one('{"jsonrpc":"2.0","method":"read"}');
  t.equal(c.rpc?.notification, true);
  t.equal(c.reject, undefined);
  const bad = one('{"jsonrpc":"2.0","method":"bad","params":[]}');
  t.ok(bad.reject instanceof InvalidParamsError, 'a rejected notification is still marked as one');
  t.equal(bad.rpc?.notification, true);
});

t.test('batch: invalid elements are rejected in place, the rest is served', async (t) => {
  const p = parse(
    '[{"jsonrpc":"2.0","id":1,"method":"read"}, 5, {"id":2,"method":7}, {"id":{"x":1},"method":"read"}]',
  );
  t.equal(p.batch, true);
  // Each call's id text, its rejection (or 'ok') and its metric label.
  const rows = (calls: Call[]) => calls.map((c) => [c.rpc?.idRaw, c.reject?.constructor.name ?? 'ok', c.name]);
  t.same(
    rows(p.calls),
    [
      ['1', 'ok', 'read'],
      ['null', 'InvalidRequestError', 'other'],
      ['2', 'InvalidRequestError', 'other'],
      ['null', 'InvalidRequestError', 'read'],
    ],
  );
  const q = parse('[{"jsonrpc":"1.0","id":3,"method":"read"}, {"id":4,"method":"read","params":"x"}, {"id":5,"method":"bad"}, {"id":6,"method":"read","params":{"a":1}}]');
  t.same(
    rows(q.calls),
    [
      ['3', 'InvalidRequestError', 'read'],
      ['4', 'InvalidRequestError', 'read'],
      ['5', 'InvalidParamsError', 'bad'],
      ['6', 'ok', 'read'],
    ],
  );
  // The metric label stays bounded: a method the dialect does not know is 'other', rejected or not.
  const r = parse('[{"jsonrpc":"1.0","id":7,"method":"nope"}, {"id":8,"method":"nope"}]');
  t.same(rows(r.calls), [['7', 'InvalidRequestError', 'other'], ['8', 'ok', 'other']]);
  t.equal(q.calls[2]?.reject?.rpcCode, -32602);
});

t.test('batch: duplicate ids, one element, empty, too long', async (t) => {
  const dup = parse('[{"id":1,"method":"read","params":[1]},{"id":1,"method":"read","params":[2]}]');
  t.same(dup.calls.map((c) => [c.rpc?.idRaw, c.keyMaterial]), [['1', 'read\n[1]'], ['1', 'read\n[2]']]);
  const single = parse('[{"id":9,"method":"read"}]');
  t.equal(single.batch, true, 'a one-element batch is still answered as an array');
  t.equal(single.calls.length, 1);
  t.throws(() => parse('[]'), InvalidRequestError);
  t.throws(() => parse(' [ ] '), InvalidRequestError);
  t.throws(() => parse(JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ id: i, method: 'read' })))), InvalidRequestError);
  t.equal(parse(JSON.stringify(Array.from({ length: 4 }, (_, i) => ({ id: i, method: 'read' })))).calls.length, 4);
});

t.test('whole-request failures', async (t) => {
  t.throws(() => parse('5'), InvalidRequestError);
  t.throws(() => parse('"x"'), InvalidRequestError);
  t.throws(() => parse('{"id":1,"method":"read"'), MalformedJsonError);
  t.throws(() => parse(`{"id":1,"method":"read","params":${'['.repeat(20)}${']'.repeat(20)}}`), MalformedJsonError);
});

t.test('key material: canonical params, absent params like []', async (t) => {
  const a = one('{"id":1,"method":"read","params":[{"b":1,"a":2}, 12345678901234567890]}');
  const b = one('{ "params" : [ { "a" : 2 , "b" : 1 } , 12345678901234567890 ] , "method" : "read" , "id" : "zz" }');
  const c = one('{"id":1,"method":"read","params":[{"b":1,"a":2}, 12345678901234567891]}');
  t.equal(a.keyMaterial, b.keyMaterial);
  t.not(a.keyMaterial, c.keyMaterial, 'big integers are not rounded together');
  t.equal(one('{"id":1,"method":"read"}').keyMaterial, one('{"id":1,"method":"read","params":[]}').keyMaterial);
  t.equal(rpcKeyMaterial('read', undefined), 'read\n[]');
  t.not(one('{"id":1,"method":"read","params":[1]}').keyMaterial, one('{"id":1,"method":"write","params":[1]}').keyMaterial);
});

t.test('forwarded body: new id, raw params, member order kept', async (t) => {
  const c = one('{"jsonrpc":"2.0","id":"client","method":"read","params":[{"z":1,"a":12345678901234567891},"\\u00e9"],"extra":1}');
  t.equal(c.rpc?.body(7), '{"jsonrpc":"2.0","id":7,"method":"read","params":[{"z":1,"a":12345678901234567891},"é"]}');
  t.equal(one('{"id":1,"method":"read"}').rpc?.body(3), '{"jsonrpc":"2.0","id":3,"method":"read"}', 'absent params stay absent');
  t.throws(() => c.rpc?.body(1, 5n), InternalError, 'a call that cannot be pinned refuses a pin');
  t.throws(() => c.rpc?.body(1.5), InternalError);
  const rejected = parse('[5]').calls[0];
  t.throws(() => rejected?.rpc?.body(1), InternalError, 'a rejected call is never forwarded');
});

t.test('answer texts', async (t) => {
  const err = rpcErrorText('"a"', -32602, 'bad "params"');
  t.same(JSON.parse(err), { jsonrpc: '2.0', id: 'a', error: { code: -32602, message: 'bad "params"' } });
  const stored = Buffer.from('{"big":12345678901234567891}');
  const full = envelopePrefix('12345678901234567890') + stored.toString() + ENVELOPE_SUFFIX;
  t.equal(full, '{"jsonrpc":"2.0","id":12345678901234567890,"result":{"big":12345678901234567891}}');
  t.equal(rpcEnvelope('12345678901234567890', 'result', stored).toString(), full);
  t.equal(rpcEnvelope('null', 'error', Buffer.from('{"code":1}')).toString(), '{"jsonrpc":"2.0","id":null,"error":{"code":1}}');
  t.equal(rpcBatchText([Buffer.from('{"a":1}'), '{"b":2}']).toString(), '[{"a":1},{"b":2}]');
});

t.test('shared cacheability rule', async (t) => {
  const a = (body: string, status = 200, rpcError?: boolean) => rpcAnswerCacheable({ status, headers: {}, body: Buffer.from(body), rpcError });
  t.equal(a('"0x1"'), true);
  t.equal(a('0'), true);
  t.equal(a('false'), true);
  t.equal(a('nullx'), true, 'only the literal null is "not found"');
  t.equal(a('null'), false);
  t.equal(a(' \n null\t'), false);
  t.equal(a(''), false);
  t.equal(a('"0x1"', 201), false);
  t.equal(a('"0x1"', 200, true), false);
});
