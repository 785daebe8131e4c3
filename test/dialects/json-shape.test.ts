// The byte judge of JSON (json-shape.ts) against JSON.parse itself: on generated valid documents,
// every truncation of them, byte mutations, insertions and deletions, invalid UTF-8 and a list of
// tricky bodies, jsonShape must give exactly JSON.parse's verdict (parses or not, and the top-level
// kind). Any difference fails. FUZZ_SEED / FUZZ_COUNT replay or widen.
import t from 'tap';
import { jsonShape, leadingShape, parsedShape, type JsonShape } from '../../src/dialects/json-shape.js';
import { Rng } from '../support/fuzz-rng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 7);
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 1500);

/** The verdict as JSON.parse gives it, written out here independently of the source. */
function reference(body: Buffer): JsonShape | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (Array.isArray(doc)) return 'array';
  if (doc === null || typeof doc === 'boolean') return 'literal';
  return typeof doc === 'object' ? 'object' : (typeof doc as 'string' | 'number');
}

function generator(rng: Rng) {
  const ws = (): string => (rng.chance(0.7) ? '' : rng.pick([' ', '\n', '\r\n', '\t', '  \t ']));
  const digits = (n: number): string => Array.from({ length: n }, () => String(rng.int(10))).join('');
  const number = (): string => {
    const int = rng.chance(0.2) ? '0' : `${1 + rng.int(9)}${digits(rng.int(25))}`;
    const frac = rng.chance(0.3) ? `.${digits(1 + rng.int(5))}` : '';
    const exp = rng.chance(0.2) ? `${rng.pick(['e', 'E'])}${rng.pick(['', '+', '-'])}${digits(1 + rng.int(4))}` : '';
    return `${rng.chance(0.3) ? '-' : ''}${int}${frac}${exp}`;
  };
  const string = (): string => {
    const parts = ['"'];
    for (let n = rng.int(12); n > 0; n--) {
      parts.push(
        rng.pick(['a', 'Z', ' ', '0x1::coin', '\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u00e9', '\\uD83D\\uDE00', '\\uFFFF', '\\uabCD', 'é', '€', '😀', '\u2028', '\u007f', "'", '{', ']', ',', ':']),
      );
    }
    parts.push('"');
    return parts.join('');
  };
  const value = (depth: number): string => {
    const k = rng.int(depth > 4 ? 5 : 8);
    if (k === 0) return number();
    if (k === 1) return string();
    if (k === 2) return rng.pick(['true', 'false', 'null']);
    if (k === 3 || k === 4) return string();
    if (k === 5) return `[${ws()}${Array.from({ length: rng.int(5) }, () => `${ws()}${value(depth + 1)}${ws()}`).join(',')}${ws()}]`;
    return `{${ws()}${Array.from({ length: rng.int(5) }, () => `${ws()}${string()}${ws()}:${ws()}${value(depth + 1)}${ws()}`).join(',')}${ws()}}`;
  };
  return (): string => `${ws()}${value(0)}${ws()}`;
}

/** Bytes that move the scanner's decisions: structure, escapes, number parts, controls, non-ASCII. */
const TRICKY_BYTES = [
  0x00, 0x08, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x22, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x39, 0x3a, 0x45, 0x5b, 0x5c, 0x5d, 0x65,
  0x66, 0x6e, 0x74, 0x75, 0x7b, 0x7d, 0x7f, 0x80, 0xbf, 0xc3, 0xe2, 0xef, 0xf0, 0xff,
];

const HANDWRITTEN = [
  '', ' ', '{}', '[]', '""', '0', '-0', '01', '-', '+1', '1.', '.5', '1.e3', '1e', '1e+', '1E-0', '0.0e00', '1e400', '-1e-400',
  '123456789012345678901234567890', 'true', 'false', 'null', 'tru', 'truee', 'nul', 'NULL', 'True', '[1,]', '[,1]', '[1 2]',
  '{"a":1,}', '{,}', '{"a"}', '{"a":}', '{a:1}', "{'a':1}", '{"a":1 "b":2}', '{"a" : 1 , "b" : [ ] }', '[[[[]]]]', '[[[[]]]',
  '[]]', '{}}', '{"a":{"b":{"c":[1,{"d":null}]}}}', '"\\u12"', '"\\u12G4"', '"\\x41"', '"\\\'"', '"\\U0041"', '"\\', '"abc',
  '"a\tb"', '"a\nb"', '"\u0000"', '"\\u0000"', '"\u007f"', '\ufeff{}', '{}\ufeff', '{} ', ' {} \n', '{}x', '{}{}', '[] []',
  '\u00a0{}', '{}\u00a0', '\u2028[]', '1 2', '"a" "b"', '[\n\t\r ]', '[1,\n2]', '-01', '-a', '2.5e+10', '0x10', 'Infinity',
  'NaN', '-Infinity', '[-]', '[1e]', '{"__proto__":1}', '{"a":1,"a":2}', '["\\uD800"]', '["\\uDC00\\uD800"]', '/* */{}', '{}//',
];

function corpus(rng: Rng): Buffer[] {
  const gen = generator(rng);
  const out: Buffer[] = HANDWRITTEN.map((s) => Buffer.from(s));
  // Invalid UTF-8 inside and outside strings, BOM as bytes, overlong and surrogate encodings.
  for (const bytes of [[0x22, 0xc3, 0x22], [0x22, 0xe0, 0x80, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xc0, 0xaf, 0x22], [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22],
    [0x22, 0xf0, 0x9f, 0x22], [0x5b, 0x22, 0xff, 0x22, 0x5d], [0xef, 0xbb, 0xbf, 0x7b, 0x7d], [0x7b, 0x7d, 0xc3], [0x5b, 0xc3, 0x5d], [0x22, 0x80, 0x5c, 0x6e, 0x22]]) {
    out.push(Buffer.from(bytes));
  }
  // Deep nesting: V8's parser has no depth limit, neither may the byte judge.
  for (const depth of [1000, 100_000]) {
    out.push(Buffer.from('['.repeat(depth) + ']'.repeat(depth)), Buffer.from('['.repeat(depth) + ']'.repeat(depth - 1)));
    out.push(Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)), Buffer.from('[{"a":'.repeat(depth) + '[]' + '}]'.repeat(depth) + ','));
  }
  for (let n = 0; n < COUNT; n++) {
    const doc = Buffer.from(gen());
    out.push(doc);
    // Truncations: every prefix of the small ones, a few of the others.
    const cuts = doc.length <= 40 ? doc.length : 6;
    for (let k = 0; k < cuts; k++) out.push(doc.subarray(0, doc.length <= 40 ? k : rng.int(doc.length)));
    // Mutations: one byte replaced, inserted or deleted.
    for (let k = 0; k < 8 && doc.length > 0; k++) {
      const at = rng.int(doc.length);
      const b = rng.pick(TRICKY_BYTES);
      const op = rng.int(3);
      if (op === 0) {
        const m = Buffer.from(doc);
        m[at] = b;
        out.push(m);
      } else if (op === 1) out.push(Buffer.concat([doc.subarray(0, at), Buffer.from([b]), doc.subarray(at)]));
      else out.push(Buffer.concat([doc.subarray(0, at), doc.subarray(at + 1)]));
    }
  }
  return out;
}

t.test('jsonShape gives JSON.parse its verdict on every body of the corpus', async (t) => {
  const rng = new Rng(SEED);
  const bodies = corpus(rng);
  const verdicts = new Map<string, number>();
  let differences = 0;
  for (const body of bodies) {
    const want = reference(body);
    const got = jsonShape(body);
    verdicts.set(String(want), (verdicts.get(String(want)) ?? 0) + 1);
    if (got !== want && differences++ < 20) t.fail(`differs on ${JSON.stringify(body.subarray(0, 120).toString('latin1'))}: got ${got}, JSON.parse ${want}`);
    const lead = leadingShape(body);
    if (got !== undefined && lead !== got && differences++ < 20) t.fail(`leading shape ${lead} but ${got} on ${JSON.stringify(body.toString('latin1'))}`);
  }
  t.equal(differences, 0, `${bodies.length} bodies, seed ${SEED}`);
  // The corpus must exercise both sides of every verdict.
  for (const v of ['undefined', 'object', 'array', 'string', 'number', 'literal']) t.ok((verdicts.get(v) ?? 0) > 20, `${v}: ${verdicts.get(v)}`);
});

t.test('parsedShape (the JSON.parse path kept for bodies too long to decode) is the same verdict', async (t) => {
  const bodies = corpus(new Rng(SEED + 1)).slice(0, 3000);
  for (const body of bodies) if (parsedShape(body) !== reference(body)) t.fail(`parsedShape differs on ${body.toString('latin1')}`);
  t.pass(`${bodies.length} bodies`);
});

t.test('the scan buffer grown for a deep body is let go again', async (t) => {
  const deep = Buffer.from('['.repeat(200_000) + ']'.repeat(200_000));
  t.equal(jsonShape(deep), 'array');
  t.equal(jsonShape(Buffer.from('[[1]]')), 'array');
  t.equal(jsonShape(Buffer.from('[[1]')), undefined);
});
