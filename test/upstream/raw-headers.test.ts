// parseRawHeaders must give exactly undici's util.parseHeaders record, whatever the positions
// remembered from earlier answers: the same answers again, answers that change one value, repeats,
// inherited names, case, non-ASCII bytes, long values, and the reuse of undici's socket buffer.
import t, { type Test } from 'tap';
import { util as undiciUtil } from 'undici';
import { parseRawHeaders } from '../../src/upstream/raw-headers.js';

const raw = (...pairs: string[]): Buffer[] => pairs.map((p) => Buffer.from(p, 'latin1'));

function same(t: Test, headers: Buffer[], what: string): void {
  const want = undiciUtil.parseHeaders(headers);
  const got = parseRawHeaders(headers);
  t.same(Object.keys(got), Object.keys(want), `${what}: keys in order`);
  t.same(got, want, `${what}: values`);
  t.equal(Object.getPrototypeOf(got), Object.getPrototypeOf(want), `${what}: prototype`);
}



const aptos = (version: number): Buffer[] =>
  raw(
    'Content-Type', 'application/json; charset=utf-8',
    'x-aptos-chain-id', '1',
    'x-aptos-ledger-version', String(version),
    'X-Aptos-Ledger-Oldest-Version', '0',
    'date', 'Tue, 01 Dec 2026 16:40:00 GMT',
    'content-length', String(version % 997),
    'connection', 'keep-alive',
    'keep-alive', 'timeout=5',
  );

t.test('a node answering alike: every answer as undici parses it', async (t) => {
  for (let v = 100; v < 140; v++) same(t, aptos(v - (v % 3)), `version ${v}`);
});

t.test('repeats, inherited names and __proto__', async (t) => {
  same(t, raw('set-cookie', 'a=1', 'Set-Cookie', 'b=2', 'set-cookie', 'c=3'), 'three cookies');
  same(t, raw('constructor', 'x', 'toString', 'y', 'constructor', 'z'), 'inherited names');
  same(t, raw('__proto__', 'p', 'a', '1'), '__proto__');
  same(t, raw('__proto__', 'p', '__proto__', 'q'), '__proto__ twice');
  same(t, raw('set-cookie', 'a=1', 'Set-Cookie', 'b=2', 'set-cookie', 'c=3'), 'three cookies again');
});

t.test('positions change meaning between answers', async (t) => {
  same(t, raw('a', '1', 'b', '2', 'c', '3'), 'first');
  same(t, raw('b', '1', 'a', '2'), 'swapped');
  same(t, raw('B', '2', 'A', '1', 'c', '3', 'd', '4'), 'upper case');
  same(t, raw('\xc0b', '\xe9', 'x-long', 'v'.repeat(200)), 'non-ASCII and long');
  same(t, raw('\xc0b', '\xe9', 'x-long', 'v'.repeat(200)), 'the same again');
  same(t, raw(), 'none');
  const many: string[] = [];
  for (let i = 0; i < 40; i++) many.push(`h${i % 37}`, `v${i}`);
  same(t, raw(...many), 'more headers than remembered positions');
  same(t, raw(...many), 'and again');
});

t.test('a reused socket buffer does not change what was remembered', async (t) => {
  const buf = Buffer.from('x-aptos-epoch7');
  const headers = [buf.subarray(0, 13), buf.subarray(13, 14)];
  same(t, headers, 'before');
  buf.write('x-aptos-block8');
  same(t, headers, 'after the bytes changed in place');
});

t.test('random header lists against undici', async (t) => {
  const pool = ['content-type', 'Content-Type', 'x-aptos-epoch', 'X-APTOS-EPOCH', 'date', 'set-cookie', 'via', 'x-a', 'constructor'];
  const vals = ['1', '2', 'application/json', 'keep-alive', '', ' spaced '];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let checked = 0;
  for (let round = 0; round < 2000; round++) {
    const pairs: string[] = [];
    const n = rnd(10);
    for (let i = 0; i < n; i++) pairs.push(pool[rnd(pool.length)] as string, vals[rnd(vals.length)] as string);
    const headers = raw(...pairs);
    const want = undiciUtil.parseHeaders(headers);
    const got = parseRawHeaders(headers);
    if (JSON.stringify(Object.entries(got)) !== JSON.stringify(Object.entries(want))) t.fail(`differs for ${JSON.stringify(pairs)}`);
    else checked++;
  }
  t.equal(checked, 2000);
});
