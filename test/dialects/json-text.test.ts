import t from 'tap';
import { MalformedJsonError, UpstreamBadResponseError } from '../../src/errors.js';
import { JsonNumber, RpcElement, isJsonObject, parseJson, parseRpcDocument, stringifyJson, type JsonValue } from '../../src/dialects/json-text.js';
import { scanRpcResponse } from '../../src/dialects/rpc-answer-scan.js';

const parse = (text: string | Buffer, depth = 64) => parseJson(text, depth);
const canon = (text: string) => stringifyJson(parse(text), { sortKeys: true });

t.test('number literals keep their exact text', async (t) => {
  for (const lit of ['12345678901234567891', '-0', '1.50', '1E+3', '0.000000000000000000001', '-12e-7']) {
    t.equal(stringifyJson(parse(lit)), lit, lit);
  }
  t.equal(stringifyJson(parse('[12345678901234567890,12345678901234567891]')), '[12345678901234567890,12345678901234567891]');
  t.not(canon('12345678901234567890'), canon('12345678901234567891'), 'big integers are not rounded together');
  const n = parse('18446744073709551617');
  t.ok(n instanceof JsonNumber);
  t.equal((n as JsonNumber).toBigInt(), 18446744073709551617n);
  t.equal(new JsonNumber('1.5').toBigInt(), undefined);
});

t.test('canonical form: sorted keys, no whitespace; plain form keeps member order', async (t) => {
  const a = ' { "b" : 1 ,\n "a" : [ 2 , { "d" : true , "c" : null } ] } ';
  t.equal(canon(a), '{"a":[2,{"c":null,"d":true}],"b":1}');
  t.equal(stringifyJson(parse(a)), '{"b":1,"a":[2,{"d":true,"c":null}]}');
  t.equal(canon('{"x":{"z":1,"y":2}}'), canon('{"x":{"y":2,"z":1}}'));
});

t.test('strings are decoded and re-escaped', async (t) => {
  const v = parse('"\\u0041\\n\\ud83d\\ude00\\/\\"\\\\é"');
  t.equal(v, 'A\n😀/"\\é');
  t.equal(stringifyJson(v), '"A\\n😀/\\"\\\\é"');
  t.equal(parse(Buffer.from('"héllo ✓"')), 'héllo ✓', 'multi-byte UTF-8');
});

t.test('objects have no prototype: __proto__ is a plain member', async (t) => {
  const v = parse('{"__proto__":{"polluted":1},"a":1,"a":2}');
  t.ok(isJsonObject(v));
  if (!isJsonObject(v)) return;
  t.same(Object.keys(v), ['__proto__', 'a']);
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  t.equal(stringifyJson(v), '{"__proto__":{"polluted":1},"a":2}', 'duplicate member: the last one wins, like JSON.parse');
});

t.test('malformed JSON is rejected with MalformedJsonError', async (t) => {
  const bad = [
    '', ' ', '{', '[1,]', '{"a":1,}', '01', '1.', '.5', '+1', '-', '1e', 'tru', 'nul', 'NaN', "'a'",
    '"\u0001"', '"\\x"', '"\\u12"', '"abc', '{"a" 1}', '[1 2]', '{} x', '{1:2}', '[1]]', '"a"b',
  ];
  for (const text of bad) t.throws(() => parse(text), MalformedJsonError, JSON.stringify(text));
});

t.test('invalid UTF-8 and a BOM are rejected', async (t) => {
  t.throws(() => parse(Buffer.from([0x22, 0xff, 0x22])), MalformedJsonError, 'invalid byte');
  t.throws(() => parse(Buffer.from([0x22, 0xc0, 0xaf, 0x22])), MalformedJsonError, 'overlong encoding');
  t.throws(() => parse(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), MalformedJsonError, 'encoded surrogate');
  t.throws(() => parse(Buffer.from('\ufeff{}')), MalformedJsonError, 'byte order mark');
});

t.test('nesting depth limit', async (t) => {
  t.same(parse('[[[1]]]', 3), [[[new JsonNumber('1')]]]);
  t.throws(() => parse('[[[[1]]]]', 3), MalformedJsonError);
  t.throws(() => parse('{"a":{"b":{"c":{}}}}', 3), MalformedJsonError);
  t.throws(() => parse('[]', 0), MalformedJsonError);
  t.equal(parse('"flat"', 0), 'flat', 'scalars have depth 0');
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  t.throws(() => parse(deep, 64), MalformedJsonError, 'very deep input fails cleanly, not with a stack overflow');
});

t.test('scanner: a single answer', async (t) => {
  const [a, ...rest] = scanRpcResponse(Buffer.from('{"jsonrpc":"2.0","id":1,"result":"0x1"}'));
  t.equal(rest.length, 0);
  t.equal(a?.idRaw, '1');
  t.equal(a?.result?.toString(), '"0x1"');
  t.equal(a?.error, undefined);
});

t.test('scanner: result slices are byte-exact', async (t) => {
  const result = '{ "b" : 1, "a":"\\u00e9\\ud83d\\ude00 é ☃", "n" : 123456789012345678901234567890, "f":1.10E+2, "s":"]}\\"[" }';
  const body = Buffer.from(`  {"result" : ${result}  ,"id":"x\\u0031","jsonrpc":"2.0"}\n`);
  const [a] = scanRpcResponse(body);
  t.equal(a?.idRaw, '"x\\u0031"', 'id raw text');
  t.ok(a?.result?.equals(Buffer.from(result)), 'the exact bytes, nothing re-serialised');
  t.ok(a?.result !== undefined && a.result.buffer === body.buffer, 'a slice of the body, not a copy');
});

t.test('scanner: batch answers in the order sent, errors and nulls', async (t) => {
  const body = Buffer.from(
    '[{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"header not found"}},' +
      ' {"jsonrpc":"2.0","id":1,"result":null}, {"id":3,"result":[1,[2,{}]],"error":null}, {"result":7}]',
  );
  const items = scanRpcResponse(body);
  t.equal(items.length, 4);
  t.same(
    items.map((i) => [i.idRaw, i.result?.toString(), i.error?.toString()]),
    [
      ['2', undefined, '{"code":-32000,"message":"header not found"}'],
      ['1', 'null', undefined],
      ['3', '[1,[2,{}]]', undefined],
      ['null', '7', undefined],
    ],
  );
  t.same(scanRpcResponse(Buffer.from(' [ ] ')), []);
});

t.test('scanner: escaped member names and very deep results', async (t) => {
  const [a] = scanRpcResponse(Buffer.from('{"\\u0069d":5,"r\\u0065sult":true}'));
  t.equal(a?.idRaw, '5');
  t.equal(a?.result?.toString(), 'true');
  const deep = '['.repeat(200_000) + ']'.repeat(200_000);
  const [d] = scanRpcResponse(Buffer.from(`{"id":1,"result":${deep}}`));
  t.equal(d?.result?.length, deep.length, 'no recursion: deep legitimate results do not overflow the stack');
});

t.test('scanner: garbage throws UpstreamBadResponseError', async (t) => {
  const bad = [
    '', 'hello', '<html></html>', '{"id":1}', '{"id":1,"result":}', '[{"id":1,"result":1},]', '{"id":1,"result":1} x',
    '{"id":1,"result":[1,2}', '{"id":1,"result":"abc}', '{"id":1,"result":01}', '[1]', '{"id":1,"result":tru}',
    '{"id":1,"result":"a\u0001"}', '{"id":1,"result":"\\q"}', '{"id":1,"result":{"a" 1}}', '{"id":1,"result":{1:2}}',
    '{"id":1,"result":1.}', '{"id":1,"result":-}', '{"id":1,"result":[1 2]}', '{"id":1,"error":null}', '[{"id":1,"result":1}',
  ];
  for (const text of bad) t.throws(() => scanRpcResponse(Buffer.from(text)), UpstreamBadResponseError, JSON.stringify(text));
});

t.test('a depth limit beyond the call stack still ends as MalformedJsonError', async (t) => {
  const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
  t.throws(() => parse(deep, 10_000_000), MalformedJsonError);
});

t.test('JSON-RPC documents: request objects parse to their envelope members, errors as parseJson', async (t) => {
  const { value } = parseRpcDocument(Buffer.from('[{"id":1,"x":{"deep":[1]},"method":"m","params":[1],"jsonrpc":"2.0","id":2},3,[]]'), 8);
  const [el, three, arr] = value as unknown[];
  t.ok(el instanceof RpcElement);
  t.same({ ...(el as RpcElement) }, { jsonrpc: '2.0', id: new JsonNumber('2'), method: 'm', params: [new JsonNumber('1')] });
  t.same(three, new JsonNumber('3'));
  t.same(arr, []);
  const single = parseRpcDocument(Buffer.from(' {"method":"m"} '), 8).value as RpcElement;
  t.equal(single.method, 'm');
  t.equal(single.id, undefined, 'absent');
  for (const bad of ['', '[{"a":1,}]', '{"method":"m"', '[{"id":01}]', '{"a":[[[[1]]]]}', '[{"params":[[[1]]]}]']) {
    let expected: unknown;
    try {
      parseJson(Buffer.from(bad), 4);
    } catch (err) {
      expected = err;
    }
    t.ok(expected instanceof MalformedJsonError, `${bad}: malformed`);
    t.throws(() => parseRpcDocument(Buffer.from(bad), 4), { message: (expected as Error).message }, `${bad}: the same error`);
  }
});
