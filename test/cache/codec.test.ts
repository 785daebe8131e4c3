import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import t from 'tap';
import { CODEC_VERSION, decodeEntry, encodeEntry } from '../../src/cache/codec.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { compressSegment, CRC_UNKNOWN } from '../../src/response/gzip-splice.js';

function entry(body: Buffer, compress: boolean): CacheEntry {
  const seg = compress ? compressSegment(body, { minBytes: 1, minSavings: 0 }) : { body, compressed: false, crc32: zlib.crc32(body), rawLength: body.length };
  return {
    status: 200,
    headers: [
      ['content-type', 'application/json; charset=utf-8'],
      ['x-aptos-ledger-version', '123456789'],
      ['x-note', 'ünïcødé ✓'],
    ],
    ...seg,
    storedAt: 1_700_000_000_123,
    expiresAt: 1_700_000_060_456,
  };
}

const json = Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: '0x' + 'ab'.repeat(2000) }));

t.test('round-trips identity and compressed entries', async (t) => {
  for (const e of [entry(json, false), entry(json, true), entry(Buffer.alloc(0), false), { ...entry(json, true), headers: [] }]) {
    const decoded = decodeEntry(encodeEntry(e));
    t.same(decoded, e);
    t.equal(decoded?.compressed, e.compressed);
  }
  t.equal(encodeEntry(entry(json, false)).length - json.length < 200, true, 'header stays small');
});

t.test('a decoded body does not alias the value buffer', async (t) => {
  const value = encodeEntry(entry(json, false));
  const decoded = decodeEntry(value);
  value.fill(0);
  t.same(decoded?.body, json);
});

t.test('every truncation decodes to undefined', async (t) => {
  for (const e of [entry(json, false), entry(json, true)]) {
    const value = encodeEntry(e);
    let accepted = 0;
    for (let n = 0; n < value.length; n++) if (decodeEntry(value.subarray(0, n)) !== undefined) accepted++;
    t.equal(accepted, 0, `no prefix of a ${e.compressed ? 'compressed' : 'identity'} value decodes`);
  }
});

t.test('garbage, other versions and foreign values decode to undefined', async (t) => {
  const good = encodeEntry(entry(json, true));
  const otherVersion = Buffer.from(good);
  otherVersion[2] = CODEC_VERSION + 1;
  t.equal(decodeEntry(otherVersion), undefined, 'unknown format version');
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x7b;
  t.equal(decodeEntry(badMagic), undefined, 'bad magic');
  const badFlags = Buffer.from(good);
  badFlags[3] = 0x80;
  t.equal(decodeEntry(badFlags), undefined, 'unknown flag');
  const badJson = Buffer.from(good);
  badJson[44] = 0x7d; // '}' where '[' opens the headers JSON
  t.equal(decodeEntry(badJson), undefined, 'headers JSON broken');
  const hugeHeaderLen = Buffer.from(good);
  hugeHeaderLen.writeUInt32BE(0xffffffff, 40);
  t.equal(decodeEntry(hugeHeaderLen), undefined, 'header length beyond the value');
  t.equal(decodeEntry(Buffer.from('{"jsonrpc":"2.0","result":"0x1"}')), undefined, 'plain JSON');
  t.equal(decodeEntry(Buffer.alloc(0)), undefined, 'empty');
  for (let i = 0; i < 500; i++) {
    const junk = randomBytes(Math.floor(Math.random() * 200));
    if (i % 2 === 0 && junk.length >= 3) junk.set([0x4c, 0x50, CODEC_VERSION]); // get past the magic
    if (decodeEntry(junk) !== undefined) t.fail(`junk decoded: ${junk.toString('hex')}`);
  }
  t.pass('random junk never decodes and never throws');
});

t.test('staleUntil round-trips when it extends the entry', async (t) => {
  const base = { status: 200, headers: [], body: Buffer.from('x'), compressed: false, crc32: zlib.crc32(Buffer.from('x')), rawLength: 1, storedAt: 1, expiresAt: 100 };
  t.equal(decodeEntry(encodeEntry({ ...base, staleUntil: 500 }))?.staleUntil, 500);
  t.equal(decodeEntry(encodeEntry(base))?.staleUntil, undefined, 'absent stays absent');
});

t.test('an entry whose CRC was left for its first reader is encoded with its real CRC', async (t) => {
  const body = Buffer.from('"0x00000000000000000000000000000000000000000000000000000000000004d2"');
  const e: CacheEntry = { status: 200, headers: [], body, compressed: false, crc32: CRC_UNKNOWN, rawLength: body.length, storedAt: 1, expiresAt: 2 };
  const back = decodeEntry(encodeEntry(e));
  t.equal(back?.crc32, zlib.crc32(body), 'the CRC on the wire is the body\'s');
  t.equal(e.crc32, zlib.crc32(body), 'and is kept on the entry');
  t.same(back?.body, body);
});
