import zlib from 'node:zlib';
import t from 'tap';
import { identityEntry } from '../../src/cache/policy.js';
import { sharedHeaders, storedEntry } from '../../src/cache/stored-entry.js';
import { compressSegment } from '../../src/response/gzip-splice.js';

const block = (version: string): Array<[string, string]> => [
  ['content-type', 'application/json; charset=utf-8'],
  ['x-aptos-block-height', version.slice(0, 6)],
  ['x-aptos-ledger-version', version],
];

t.test('a stored entry carries the answer, the segment and the lifetimes', async (t) => {
  const raw = Buffer.from(JSON.stringify({ data: 'x'.repeat(600) }));
  const answer = identityEntry(203, block('1000001'), raw, 5);
  const seg = compressSegment(raw);
  const e = storedEntry(answer, seg, 10, 20, 30);
  t.same(e, { status: 203, headers: block('1000001'), body: seg.body, compressed: seg.compressed, crc32: zlib.crc32(raw), rawLength: raw.length, storedAt: 10, expiresAt: 20, staleUntil: 30 });
  t.equal(e.body, seg.body, 'the segment body itself, not a copy');
});

t.test('entries with equal headers share one header set; other headers stay their own', async (t) => {
  const a = sharedHeaders(block('2000001'));
  const b = sharedHeaders(block('2000001'));
  const c = sharedHeaders(block('2000002'));
  t.equal(b, a, 'equal content: the set seen first');
  t.not(c, a);
  t.same(c, block('2000002'));
  t.equal(sharedHeaders(block('2000001')), a, 'still shared after another block came in');
  t.same(sharedHeaders([]), []);
  t.equal(sharedHeaders([]), sharedHeaders([]), 'one empty set');
});

t.test('a pair differing only in its name or value is not shared', async (t) => {
  const base = sharedHeaders([['content-type', 'application/json'], ['x-a', '1']]);
  t.not(sharedHeaders([['content-type', 'application/json'], ['x-b', '1']]), base);
  t.not(sharedHeaders([['content-type', 'application/json'], ['x-a', '2']]), base);
  t.not(sharedHeaders([['content-type', 'application/json']]), base);
});

t.test('sharing is bounded: many distinct sets keep their own copies and nothing breaks', async (t) => {
  const sets = Array.from({ length: 100 }, (_, i) => sharedHeaders(block(String(3_000_000 + i))));
  sets.forEach((s, i) => t.same(s, block(String(3_000_000 + i))));
  t.equal(sharedHeaders(block('3000099')), sets[99], 'a recent set is found');
});
