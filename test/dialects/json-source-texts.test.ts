import t from 'tap';
import { isJsonObject, parseJson, parseJsonKeepingText, stringifyJson, type JsonValue } from '../../src/dialects/json-text.js';
import { SourceTexts, TextKeeper } from '../../src/dialects/json-source-texts.js';

const canon = (text: string) => stringifyJson(parseJson(text, 64), { sortKeys: true });

t.test('kept source texts write exactly what serialising writes (compact and canonical)', async (t) => {
  const docs = [
    '[{"to":"0xc0ffee","data":"0x70a0"},"latest"]',
    '[{"a":1,"b":[true,false,null]},{"d":{"z":1,"y":{"x":[2,1]}},"c":"é☃😀"}]',
    '{"b":1,"a":2}', '{"a":1,"a":2}', '{"b":1,"a":{"d":1,"c":2},"a":3}', '{"10":1,"9":2}', '{"b":1,"1":2}',
    '[ 1 ,2]', '{"a" :1}', '["\\u0041","\\n"]', '{"\\u0062":1,"a":2}', '[[],{},[{}],{"":[]}]', '[-0,1e3,1.50,12345678901234567891]',
    '{"__proto__":{"b":1,"a":2},"x":[{"y":1,"x":2}]}', '["\u007f\u2028"]', '[{"B":1,"a":2,"_":3}]',
    // A repeat after a smaller name: neither the compact nor the canonical text is the source's.
    '{"a":1,"c":2,"b":3,"c":4}', '[{"c":1,"a":2,"c":3}]',
  ];
  const subtrees = (v: JsonValue, out: JsonValue[] = []): JsonValue[] => {
    out.push(v);
    if (Array.isArray(v)) v.forEach((x) => subtrees(x, out));
    else if (isJsonObject(v)) Object.values(v).forEach((x) => subtrees(x, out));
    return out;
  };
  docs.forEach((doc, d) => {
    const plain = parseJson(Buffer.from(doc), 64);
    const { value, texts } = parseJsonKeepingText(Buffer.from(doc), 64);
    t.same(value, plain, `doc ${d}: the same tree`);
    const a = subtrees(value);
    const b = subtrees(plain);
    a.forEach((v, i) => {
      for (const sortKeys of [false, true]) {
        t.equal(stringifyJson(v, { sortKeys, texts }), stringifyJson(b[i] as JsonValue, { sortKeys }), `doc ${d} subtree ${i} sortKeys=${sortKeys}`);
      }
    });
  });
});

t.test('a changed copy of parsed params has no kept text: it is written from its members', async (t) => {
  const { value, texts } = parseJsonKeepingText(Buffer.from('[{"to":"0x1"},"latest"]'), 8);
  const list = value as JsonValue[];
  const pinned = list.slice();
  pinned[1] = '0x10';
  t.equal(stringifyJson(pinned, { texts }), '[{"to":"0x1"},"0x10"]');
  const spread = { ...(list[0] as Record<string, JsonValue>), data: '0x' } as JsonValue;
  t.equal(stringifyJson(spread, { texts, sortKeys: true }), '{"data":"0x","to":"0x1"}');
});

t.test('canonical member order is the default sort order, for few and many members', async (t) => {
  const names = ['b', 'a', 'B', '_', 'aa', 'é', '😀', 'Z', 'z', 'ab', '$', 'a0'];
  for (const n of [2, 5, 8, 9, 12]) {
    const some = names.slice(0, n);
    const doc = `{${some.map((k, i) => `"${k}":${i}`).join(',')}}`;
    const expected = `{${[...some].sort().map((k) => `"${k}":${some.indexOf(k)}`).join(',')}}`;
    t.equal(canon(doc), expected, `${n} members`);
    const { value, texts } = parseJsonKeepingText(Buffer.from(doc), 4);
    t.equal(stringifyJson(value, { sortKeys: true, texts }), expected, `${n} members, from kept text`);
  }
});

t.test('the keeper keeps a text only when nothing loose was read inside it, canonical when sorted', async (t) => {
  const texts = new SourceTexts();
  const keeper = new TextKeeper(texts);
  const [sorted, unsorted, repeated, spaced] = [{}, {}, {}, {}];
  keeper.member(undefined, 'a', false);
  keeper.member('a', 'b', false);
  keeper.close(sorted, '{"a":1,"b":2}', 0, 13, 0, 0);
  t.equal(texts.textOf(sorted, true), '{"a":1,"b":2}', 'in order: the canonical text too');
  keeper.member(undefined, 'b', false);
  keeper.member('b', 'a', false);
  keeper.close(unsorted, '{"b":1,"a":2}', 0, 13, 0, 0);
  t.equal(texts.textOf(unsorted, false), '{"b":1,"a":2}', 'out of order: the compact text is kept');
  t.equal(keeper.unsorted, 1);
  keeper.member(undefined, 'a', false);
  keeper.member('a', 'c', false);
  keeper.member('c', 'b', false);
  keeper.member('b', 'c', true);
  keeper.close(repeated, '{"a":1,"c":2,"b":3,"c":4}', 0, 25, 0, keeper.unsorted);
  t.equal(texts.textOf(repeated, false), undefined, 'a repeat after a smaller name drops the text');
  const mark = keeper.loose;
  keeper.looseText();
  keeper.close(spaced, '[ 1]', 0, 4, mark, keeper.unsorted);
  t.equal(texts.textOf(spaced, false), undefined, 'whitespace drops the text');
  keeper.member(undefined, '1x', false);
  t.equal(keeper.loose, mark + 2, 'an integer-like name is loose');
});
