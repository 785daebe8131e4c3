// Binary form of a CacheEntry as stored in Redis (L2). Every proxy instance shares L2 and instances
// of different releases may run side by side during a rollout, so a value that this build cannot
// read — another format version, a truncated write, a foreign key under our prefix — must decode
// to a miss (undefined), never throw: the request then simply goes upstream and refills the key.
//
// Layout (big-endian):
//   0  u8[2] magic 'LP'        4  u16 status           12 u32 rawLength
//   2  u8    format version    6  u32 crc32            16 f64 storedAt (epoch ms)
//   3  u8    flags             10 (u16 reserved, 0)     24 f64 expiresAt (epoch ms)
//  32  f64   staleUntil (epoch ms; = expiresAt when not set)
//  40  u32   length H of the headers JSON, then H bytes of JSON [[name, value], ...], then the body.
import { ownedCopy } from '../buffers.js';
import type { CacheEntry } from './types.js';

const MAGIC_0 = 0x4c; // 'L'
const MAGIC_1 = 0x50; // 'P'
export const CODEC_VERSION = 2;
const FLAG_COMPRESSED = 0x01;
const FIXED = 44;
// A sync-flushed deflate segment always ends with an empty stored block: a cheap truncation check.
const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export function encodeEntry(e: CacheEntry): Buffer {
  const headers = Buffer.from(JSON.stringify(e.headers), 'utf8');
  const out = Buffer.allocUnsafe(FIXED + headers.length + e.body.length);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = CODEC_VERSION;
  out[3] = e.compressed ? FLAG_COMPRESSED : 0;
  out.writeUInt16BE(e.status, 4);
  out.writeUInt32BE(e.crc32 >>> 0, 6);
  out.writeUInt16BE(0, 10);
  out.writeUInt32BE(e.rawLength, 12);
  out.writeDoubleBE(e.storedAt, 16);
  out.writeDoubleBE(e.expiresAt, 24);
  out.writeDoubleBE(e.staleUntil ?? e.expiresAt, 32);
  out.writeUInt32BE(headers.length, 40);
  headers.copy(out, FIXED);
  e.body.copy(out, FIXED + headers.length);
  return out;
}

/** undefined for anything that is not a complete value of this format version. */
export function decodeEntry(b: Buffer): CacheEntry | undefined {
  if (b.length < FIXED || b[0] !== MAGIC_0 || b[1] !== MAGIC_1 || b[2] !== CODEC_VERSION) return undefined;
  const flags = b[3] ?? 0;
  if ((flags & ~FLAG_COMPRESSED) !== 0) return undefined;
  const headerLen = b.readUInt32BE(40);
  if (FIXED + headerLen > b.length) return undefined;
  const headers = parseHeaders(b.subarray(FIXED, FIXED + headerLen));
  if (!headers) return undefined;
  const entry: CacheEntry = {
    status: b.readUInt16BE(4),
    headers,
    // A copy: the Redis reply parser may hand out a slice of a larger socket read buffer, which a
    // long-lived L1 entry would otherwise keep alive whole.
    body: ownedCopy(b.subarray(FIXED + headerLen)),
    compressed: (flags & FLAG_COMPRESSED) !== 0,
    crc32: b.readUInt32BE(6),
    rawLength: b.readUInt32BE(12),
    storedAt: b.readDoubleBE(16),
    expiresAt: b.readDoubleBE(24),
  };
  // Written as expiresAt when absent; only a later time means the entry may be served stale.
  const staleUntil = b.readDoubleBE(32);
  if (staleUntil > entry.expiresAt) entry.staleUntil = staleUntil;
  return plausible(entry) ? entry : undefined;
}

function parseHeaders(json: Buffer): Array<readonly [string, string]> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const out: Array<readonly [string, string]> = [];
  for (const pair of parsed) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const [name, value] = pair as unknown[];
    if (typeof name !== 'string' || typeof value !== 'string') return undefined;
    out.push([name, value]);
  }
  return out;
}

/** Cheap consistency checks that catch a value cut short (the body is the last field). */
function plausible(e: CacheEntry): boolean {
  if (!Number.isFinite(e.storedAt) || !Number.isFinite(e.expiresAt)) return false;
  if (e.status < 100 || e.status > 999) return false;
  if (!e.compressed) return e.body.length === e.rawLength;
  const tail = e.body.subarray(e.body.length - SYNC_TAIL.length);
  return e.body.length >= SYNC_TAIL.length && tail.equals(SYNC_TAIL);
}
