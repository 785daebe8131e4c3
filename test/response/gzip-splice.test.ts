import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import t from 'tap';
import { fetch } from 'undici';
import {
  compressSegment,
  crc32Combine,
  gzipSplice,
  inflateSegment,
  segmentBytes,
  CRC_UNKNOWN,
  type Segment,
} from '../../src/response/gzip-splice.js';

// Seeded so that a failing random case can be replayed: the seed is in the test name.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON-ish text: compresses well, like real node answers. */
function jsonish(n: number, rnd: () => number): Buffer {
  let s = '';
  while (s.length < n) s += `{"address":"0x${Math.floor(rnd() * 1e15).toString(16)}","balance":"${Math.floor(rnd() * 1e9)}"},`;
  return Buffer.from(s.slice(0, n));
}

function envelope(id: number, result: Buffer | Segment): Array<Buffer | Segment> {
  return [Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":`), result, Buffer.from('}')];
}

function run(cmd: string, args: string[], input: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    p.stdin.end(input);
  });
}

t.test('compressSegment keeps compression only when it pays', async (t) => {
  const text = jsonish(10_000, prng(1));
  const seg = compressSegment(text, { level: 6, minSavings: 0.1, minBytes: 64 });
  t.ok(seg.compressed);
  t.ok(seg.body.length < text.length * 0.9);
  t.equal(seg.crc32, zlib.crc32(text));
  t.equal(seg.rawLength, text.length);
  t.same(seg.body.subarray(-4), Buffer.from([0, 0, 0xff, 0xff]), 'ends with the sync-flush marker');
  t.same(inflateSegment(seg.body), text);
  t.same(segmentBytes(seg), text);

  const noise = randomBytes(10_000);
  const kept = compressSegment(noise);
  t.notOk(kept.compressed, 'random bytes do not shrink by 10 %');
  t.equal(kept.body, noise);
  t.equal(kept.crc32, zlib.crc32(noise));

  const tiny = compressSegment(Buffer.from('"0x1"'), { minBytes: 64 });
  t.notOk(tiny.compressed, 'below minBytes');
  t.notOk(compressSegment(Buffer.alloc(0)).compressed, 'empty');
  t.notOk(compressSegment(text, { minSavings: 0.99 }).compressed, 'savings threshold respected');
});

t.test('a JSON-RPC envelope around a stored segment gunzips to the full answer', async (t) => {
  const result = jsonish(5000, prng(2));
  const seg = compressSegment(result);
  const gz = gzipSplice(envelope(42, seg));
  const want = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":42,"result":'), result, Buffer.from('}')]);
  t.same(zlib.gunzipSync(gz), want);
  t.same(gz.subarray(0, 3), Buffer.from([0x1f, 0x8b, 8]));
  t.equal(gz.readUInt32LE(gz.length - 4), want.length, 'ISIZE');
  t.equal(gz.readUInt32LE(gz.length - 8), zlib.crc32(want), 'CRC-32 combined from the parts');
  t.same(zlib.gunzipSync(gzipSplice([])), Buffer.alloc(0), 'no parts: empty member');
});

t.test('the gzip CLI accepts the member (gzip -t, gzip -dc)', async (t) => {
  const rnd = prng(3);
  const parts = [...envelope(7, compressSegment(jsonish(70_000, rnd))), randomBytes(70_000), compressSegment(jsonish(300, rnd), { minBytes: 1 })];
  const want = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : segmentBytes(p))));
  const gz = gzipSplice(parts);
  const check = await run('gzip', ['-t'], gz);
  t.equal(check.code, 0, check.stderr);
  const out = await run('gzip', ['-dc'], gz);
  t.equal(out.code, 0, out.stderr);
  t.ok(out.stdout.equals(want), 'gzip -dc gives the identity bytes');
});

t.test('undici fetch decodes a spliced Content-Encoding: gzip response', async (t) => {
  const result = jsonish(20_000, prng(4));
  const seg = compressSegment(result);
  const server = http.createServer((req, res) => {
    const id = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('id'));
    const body = gzipSplice(envelope(id, seg));
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  for (const id of [1, 99]) {
    const res = await fetch(`http://127.0.0.1:${port}/?id=${id}`, { headers: { 'accept-encoding': 'gzip' } });
    t.equal(res.status, 200);
    t.equal(await res.text(), `{"jsonrpc":"2.0","id":${id},"result":${result.toString()}}`);
  }
});

t.test('random mixes of identity and compressed parts round-trip', async (t) => {
  const seed = Date.now() % 1_000_000;
  const rnd = prng(seed);
  const sizes = [0, 1, 17, 300, 4096, 65_535, 65_536, 70_000, 140_000];
  for (let round = 0; round < 120; round++) {
    const parts: Array<Buffer | Segment> = [];
    const n = Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) {
      const size = sizes[Math.floor(rnd() * sizes.length)] ?? 0;
      const raw = rnd() < 0.5 ? jsonish(size, rnd) : randomBytes(size);
      const kind = rnd();
      if (kind < 0.4) parts.push(raw);
      else parts.push(compressSegment(raw, { level: Math.floor(rnd() * 10), minBytes: 1, minSavings: kind < 0.7 ? 0 : 0.1 }));
    }
    const want = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : segmentBytes(p))));
    const gz = gzipSplice(parts);
    const got = zlib.gunzipSync(gz);
    if (!got.equals(want)) {
      t.fail(`seed ${seed} round ${round}: gunzip differs`);
      return;
    }
    // Z_FINISH on the bare deflate stream proves it ends with exactly one final block.
    const bare = zlib.inflateRawSync(gz.subarray(10, gz.length - 8));
    if (!bare.equals(want)) {
      t.fail(`seed ${seed} round ${round}: raw inflate differs`);
      return;
    }
  }
  t.pass(`120 random splices (seed ${seed})`);
});

t.test('crc32Combine agrees with zlib.crc32 over concatenations', async (t) => {
  const rnd = prng(5);
  const lengths = [0, 1, 2, 3, 7, 8, 255, 256, 1000, 65_536, 100_001];
  for (const la of lengths) {
    for (const lb of lengths) {
      const a = randomBytes(la);
      const b = randomBytes(lb);
      const whole = zlib.crc32(Buffer.concat([a, b]));
      t.equal(crc32Combine(zlib.crc32(a), zlib.crc32(b), lb), whole, `|a|=${la} |b|=${lb}`);
    }
  }
  // Folding many parts left to right, as gzipSplice does.
  const chunks = Array.from({ length: 50 }, () => randomBytes(Math.floor(rnd() * 3000)));
  let crc = 0;
  for (const c of chunks) crc = crc32Combine(crc, zlib.crc32(c), c.length);
  t.equal(crc, zlib.crc32(Buffer.concat(chunks)));
  // Lengths beyond 2^32 are valid input; the result stays an unsigned 32-bit value.
  const big = crc32Combine(0x12345678, 0x9abcdef0, 2 ** 33 + 5);
  t.ok(Number.isInteger(big) && big >= 0 && big < 2 ** 32);
});

t.test('an identity part whose CRC is unknown is spliced with its real CRC', async (t) => {
  const raw = Buffer.from('"0x00000000000000000000000000000000000000000000000000000000000004d2"');
  const seg: Segment = { body: raw, compressed: false, crc32: CRC_UNKNOWN, rawLength: raw.length };
  const compressed = compressSegment(Buffer.from(`"${'ab'.repeat(400)}"`), { minBytes: 1, minSavings: 0 });
  const member = gzipSplice([Buffer.from('['), seg, Buffer.from(','), compressed, Buffer.from(']')]);
  t.equal(zlib.gunzipSync(member).toString(), `[${raw},"${'ab'.repeat(400)}"]`, 'gunzip checks the trailer CRC');
  t.equal(seg.crc32, zlib.crc32(raw), 'the CRC is kept on the segment once worked out');
});
