// The params texts the request parser keeps (RpcElement.paramsText, paramsCanonical, made by
// json-canonical-text.ts) against what serialising the parsed params writes: they are key material
// and the forwarded body, so they must be the same bytes. bench/ and RANDOM_TEXTS=<n> run more.
import t from 'tap';
import { RpcElement, parseJson, parseRpcDocument, stringifyJson } from '../../src/dialects/json-text.js';
import { Rng } from '../support/fuzz-rng.js';
import { RandomRpcText } from '../support/random-rpc-text.js';

const COUNT = Number(process.env.RANDOM_TEXTS ?? 20_000);

function paramsOf(text: string): RpcElement {
  const el = parseRpcDocument(Buffer.from(`{"params":${text}}`), 16).value;
  if (!(el instanceof RpcElement)) throw new Error('expected an element');
  return el;
}

/**
 * A text as an assertion's name: U+2028, U+2029 and other non-ASCII escaped. A raw line separator
 * in a name ends a line for tap's reporter at some chunk boundaries and not others, which failed
 * the subtest ("test count != plan") now and then.
 */
function shown(text: string): string {
  return text.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
}

t.test('kept params texts are what serialising writes, compact and canonical', async (t) => {
  const random = new RandomRpcText(new Rng(20261202));
  let kept = 0;
  let reordered = 0;
  let bad = 0;
  let heads = 0;
  for (let i = 0; i < COUNT && bad < 5; i++) {
    const text = random.params();
    const tree = parseJson(text, 16);
    const el = paramsOf(text);
    const compact = stringifyJson(tree);
    const canonical = stringifyJson(tree, { sortKeys: true });
    if (el.paramsText === undefined) {
      if (el.paramsCanonical !== undefined) t.fail(`${shown(text)}: a canonical text without a compact one`, { bad: ++bad });
      // A text serialising writes back (so no repeat), with no escape and no integer-like name,
      // must be kept (the fast path), if it is a container.
      if (text === compact && /^[[{]/.test(text) && !/"\d[^"]*":|\\/.test(text)) t.fail(`${shown(text)}: compact but not kept`, { bad: ++bad });
      continue;
    }
    kept++;
    if (el.paramsText !== compact) t.fail(`${shown(text)}: kept text differs from the compact one`, { bad: ++bad, compact });
    if (el.paramsCanonical !== canonical) t.fail(`${shown(text)}: canonical text differs`, { bad: ++bad, canonical, got: el.paramsCanonical });
    if (canonical !== compact) reordered++;
    const head = el.paramsCanonicalHead;
    if (head === undefined) continue;
    // The canonical text up to a last param that is a string (where key material puts the placeholder).
    const last = Array.isArray(tree) ? tree[tree.length - 1] : undefined;
    if (typeof last !== 'string' || canonical !== `${head}${stringifyJson(last)}]` || !/[[,]$/.test(head)) t.fail(`${shown(text)}: canonical head differs`, { bad: ++bad, head });
    heads++;
  }
  t.equal(bad, 0, 'no mismatch');
  t.ok(kept > COUNT / 4, `kept ${kept} of ${COUNT}`);
  t.ok(reordered > COUNT / 50, `reordered ${reordered}`);
  t.ok(heads > COUNT / 500, `canonical heads ${heads}`);
});

t.test('canonical text: nested reorderings, many members, the last params member', async (t) => {
  const cases: Array<[string, string]> = [
    ['[{"to":"0x1","data":"0x2"},"latest"]', '[{"data":"0x2","to":"0x1"},"latest"]'],
    ['{"b":[{"d":1,"c":{"f":2,"e":3}}],"a":{}}', '{"a":{},"b":[{"c":{"e":3,"f":2},"d":1}]}'],
    ['[[{"y":1,"x":2}],[],{"__proto__":{"b":1,"a":2}}]', '[[{"x":2,"y":1}],[],{"__proto__":{"a":2,"b":1}}]'],
    [`{${'kjihgfedcba'.split('').map((k, i) => `"${k}":${i}`).join(',')}}`, `{${'abcdefghijk'.split('').map((k) => `"${k}":${10 - 'abcdefghijk'.indexOf(k)}`).join(',')}}`],
    ['{"\u00e9":1,"z":2,"\ud83d\ude00":3,"Z":4}', '{"Z":4,"z":2,"\u00e9":1,"\ud83d\ude00":3}'],
  ];
  for (const [text, canonical] of cases) {
    const el = paramsOf(text);
    t.equal(el.paramsText, text, `${shown(text)}: compact`);
    t.equal(el.paramsCanonical, canonical, `${shown(text)}: canonical`);
    t.equal(canonical, stringifyJson(parseJson(text, 16), { sortKeys: true }), `${shown(text)}: as serialised`);
  }
  t.equal(paramsOf('[{"to":"0x1","data":"0x2"},"latest"]').paramsCanonicalHead, '[{"data":"0x2","to":"0x1"},', 'head before a last string');
  t.equal(paramsOf('[["b"],{"b":1,"a":2}]').paramsCanonicalHead, undefined, 'the last param is no string');
  t.equal(paramsOf('[{"a":1},"latest"]').paramsCanonicalHead, undefined, 'canonical is the source text: cut it');
  const twice = parseRpcDocument(Buffer.from('{"params":[{"b":1,"a":2}],"params":[ 1]}'), 8).value as RpcElement;
  t.equal(twice.paramsText, undefined, 'the last params member counts: loose');
  const back = parseRpcDocument(Buffer.from('{"params":[ 1],"params":[{"b":1,"a":2}]}'), 8).value as RpcElement;
  t.equal(back.paramsCanonical, '[{"a":2,"b":1}]', 'the last params member counts: kept');
  t.equal((parseRpcDocument(Buffer.from('{"params":"x"}'), 8).value as RpcElement).paramsText, undefined, 'not a container');
  t.equal((parseRpcDocument(Buffer.from('{"params": {"b":1,"a":[]}}'), 8).value as RpcElement).paramsCanonical, '{"a":[],"b":1}', 'space before the params');
});

t.test('fixed texts: a kept text is what serialising writes; loose ones are not kept', async (t) => {
  // [params, kept]: whitespace, escapes, repeated and integer-like names drop the text.
  const cases: Array<[string, boolean]> = [
    ['[{"to":"0xc0ffee","data":"0x70a0"},"latest"]', true],
    ['[{"a":1,"b":[true,false,null]},{"d":{"z":1,"y":{"x":[2,1]}},"c":"é☃😀"}]', true],
    ['{"b":1,"a":2}', true], ['[[],{},[{}],{"":[]}]', true], ['[-0,1e3,1.50,12345678901234567891]', true],
    ['{"__proto__":{"b":1,"a":2},"x":[{"y":1,"x":2}]}', true], ['["\u007f\u2028"]', true], ['[{"B":1,"a":2,"_":3}]', true],
    ['{"a":1,"a":2}', false], ['{"b":1,"a":{"d":1,"c":2},"a":3}', false], ['{"10":1,"9":2}', false], ['{"b":1,"1":2}', false],
    ['[ 1 ,2]', false], ['{"a" :1}', false], ['["\\u0041","\\n"]', false], ['{"\\u0062":1,"a":2}', false],
    // A repeat after a smaller name: neither the compact nor the canonical text is the source's.
    ['{"a":1,"c":2,"b":3,"c":4}', false], ['[{"c":1,"a":2,"c":3}]', false],
  ];
  for (const [text, kept] of cases) {
    const el = paramsOf(text);
    const tree = parseJson(text, 16);
    t.equal(el.paramsText, kept ? stringifyJson(tree) : undefined, `${shown(text)}: compact`);
    t.equal(el.paramsCanonical, kept ? stringifyJson(tree, { sortKeys: true }) : undefined, `${shown(text)}: canonical`);
  }
});

t.test('canonical member order is the default sort order, for few and many members', async (t) => {
  const names = ['b', 'a', 'B', '_', 'aa', 'é', '😀', 'Z', 'z', 'ab', '$', 'a0'];
  for (const n of [2, 5, 8, 9, 12]) {
    const some = names.slice(0, n);
    const doc = `{${some.map((k, i) => `"${k}":${i}`).join(',')}}`;
    const expected = `{${[...some].sort().map((k) => `"${k}":${some.indexOf(k)}`).join(',')}}`;
    t.equal(stringifyJson(parseJson(doc, 4), { sortKeys: true }), expected, `${n} members, serialised`);
    t.equal(paramsOf(doc).paramsCanonical, expected, `${n} members, kept by the parser`);
  }
});
