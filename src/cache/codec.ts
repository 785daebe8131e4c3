// Binary form of a CacheEntry as stored in Redis (L2). Every proxy instance shares L2 and instances
// of different releases may run side by side during a rollout, so a value that this build cannot
// read — another format version, a truncated write, a foreign key under our prefix — must decode
// to a miss (undefined), never throw: the request then simply goes upstream and refills the key.
// A value of this format whose body fails its CRC-32 is damaged: a miss too, and deleted.
//
// Layout (big-endian):
//   0  u8[2] magic 'LP'        4  u16 status           12 u32 rawLength
//   2  u8    format version    6  u32 crc32            16 f64 storedAt (epoch ms)
//   3  u8    flags             10 (u16 reserved, 0)     24 f64 expiresAt (epoch ms)
//  32  f64   staleUntil (epoch ms; = expiresAt when not set)
//  40  u32   length H of the headers JSON, then H bytes of JSON [[name, value], ...], then the body.
import { constants, crc32, inflateRawSync } from 'node:zlib';
import { ownedCopy } from '../buffers.js';
import { segmentCrc32 } from '../response/gzip-splice.js';
import { sharedHeaders } from './stored-entry.js';
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
  out.writeUInt32BE(segmentCrc32(e) >>> 0, 6);
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

/** undefined for anything that is not a complete, intact value of this format version. */
export function decodeEntry(b: Buffer): CacheEntry | undefined {
  const r = inspectEntry(b);
  return 'entry' in r ? r.entry : undefined;
}

/**
 * foreign: not this format version (another release during a rollout, another tenant's key): a
 * miss, left alone. damaged: this format, but cut short or its body does not match the stored
 * CRC-32 (bit rot, a partial write, a bug): a miss the caller should count and delete, never
 * serve — a damaged compressed body would give plain clients invalid JSON and gzip clients a
 * broken stream.
 */
export function inspectEntry(b: Buffer): { entry: CacheEntry } | { problem: 'foreign' | 'damaged' } {
  if (b.length < 3 || b[0] !== MAGIC_0 || b[1] !== MAGIC_1 || b[2] !== CODEC_VERSION) return { problem: 'foreign' };
  const entry = parseEntry(b);
  return entry !== undefined && plausible(entry) && bodyIntact(entry) ? { entry } : { problem: 'damaged' };
}

function parseEntry(b: Buffer): CacheEntry | undefined {
  if (b.length < FIXED) return undefined;
  const flags = b[3] ?? 0;
  if ((flags & ~FLAG_COMPRESSED) !== 0) return undefined;
  const headerLen = b.readUInt32BE(40);
  if (FIXED + headerLen > b.length) return undefined;
  const parsed = parseHeaders(b.subarray(FIXED, FIXED + headerLen));
  if (!parsed) return undefined;
  // An L2 hit is copied into L1: it shares the header set of its block like a local fill.
  const headers = sharedHeaders(parsed);
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
  return entry;
}

/** The identity bytes (inflated when compressed) must have the stored length and CRC-32. */
function bodyIntact(e: CacheEntry): boolean {
  let raw: Buffer;
  try {
    // Bounded by the stored length: a damaged length field must not inflate without limit.
    raw = e.compressed ? inflateRawSync(e.body, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, e.rawLength) }) : e.body;
  } catch {
    return false;
  }
  return raw.length === e.rawLength && crc32(raw) === e.crc32 >>> 0;
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
