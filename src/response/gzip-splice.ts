// Serve cached bodies gzip-encoded without compressing them again, the way Varnish splices gzip'd
// ESI fragments. A body is compressed once, at fill, into a raw-deflate *segment* that ends with a
// sync flush: the segment is byte-aligned and has no final block, so it can sit anywhere inside a
// larger deflate stream. At send time the segment is wrapped into one gzip member, optionally with
// identity parts around it (a JSON-RPC envelope carrying the client's own id) written as deflate
// stored blocks, which costs a copy and no compression work. The gzip trailer needs the CRC-32 of
// all identity bytes; it is combined from the parts' CRCs so compressed data is never re-read.
import zlib from 'node:zlib';
import { ownedCopy } from '../buffers.js';

/** A body ready for splicing: identity bytes, or a sync-flushed raw-deflate segment. */
export interface Segment {
  body: Buffer;
  /** true: body is a byte-aligned raw-deflate segment without a final block. */
  compressed: boolean;
  /** CRC-32 (gzip polynomial) of the identity bytes; CRC_UNKNOWN until first needed (read it with segmentCrc32). */
  crc32: number;
  /** Length of the identity bytes. */
  rawLength: number;
}

/**
 * An identity body's CRC not worked out yet. Every answer a node gives becomes an entry, and most
 * are never sent gzip-spliced or written to Redis (the two readers of the CRC): an eth_call's
 * 66-byte result stored uncompressed paid a CRC per call for nothing. A real CRC is unsigned, so
 * it is never -1.
 */
export const CRC_UNKNOWN = -1;

/**
 * The segment's CRC, computed on first read and kept on it (the same value every time, so an entry
 * shared by many requests may be filled in by any of them).
 */
export function segmentCrc32(seg: Segment): number {
  if (seg.crc32 === CRC_UNKNOWN) seg.crc32 = zlib.crc32(segmentBytes(seg));
  return seg.crc32;
}

export interface CompressOptions {
  /** zlib level 0–9 (default 6). */
  level?: number;
  /** Keep the compressed form only when it is at least this fraction smaller (default 0.1). */
  minSavings?: number;
  /** Bodies shorter than this stay identity: gzip overhead would eat the gain (default 256). */
  minBytes?: number;
}

// mtime 0 and OS 255 ("unknown"): the member must be byte-identical for identical input.
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
// BFINAL=1, BTYPE=00, LEN=0, NLEN=0xffff: ends the deflate stream on a byte boundary.
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);
const STORED_MAX = 0xffff;
const STORED_HEADER = 5;
const TRAILER = 8;

/** Compresses a body once, at fill; keeps identity when compression does not pay. */
export function compressSegment(raw: Buffer, opts: CompressOptions = {}): Segment {
  const { level = 6, minSavings = 0.1, minBytes = 256 } = opts;
  const crc32 = zlib.crc32(raw);
  if (raw.length >= minBytes && raw.length > 0) {
    // Z_SYNC_FLUSH instead of Z_FINISH: no final block, output ends byte-aligned (00 00 ff ff).
    const deflated = zlib.deflateRawSync(raw, { level, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    if (deflated.length <= raw.length * (1 - minSavings)) {
      // zlib hands back a view on its 16 KiB output chunk: a cache entry must not pin all of it.
      return { body: ownedCopy(deflated), compressed: true, crc32, rawLength: raw.length };
    }
  }
  return { body: raw, compressed: false, crc32, rawLength: raw.length };
}

/** Identity bytes of a compressed segment, for clients that do not accept gzip. */
export function inflateSegment(body: Buffer): Buffer {
  // The segment has no final block: Z_FINISH would report "unexpected end of file".
  return zlib.inflateRawSync(body, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

/** Identity bytes of any segment. */
export function segmentBytes(seg: Segment): Buffer {
  return seg.compressed ? inflateSegment(seg.body) : seg.body;
}

/** One complete single-member gzip (RFC 1952) of the parts' identity bytes, in order. */
export function gzipSplice(parts: ReadonlyArray<Buffer | Segment>): Buffer {
  const out = Buffer.allocUnsafe(splicedSize(parts));
  let offset = GZIP_HEADER.copy(out, 0);
  let crc = 0;
  let total = 0;
  for (const part of parts) {
    const seg = Buffer.isBuffer(part) ? null : part;
    const partCrc = seg ? segmentCrc32(seg) : zlib.crc32(part as Buffer);
    const partLen = seg ? seg.rawLength : (part as Buffer).length;
    if (seg?.compressed) {
      offset += seg.body.copy(out, offset);
    } else {
      offset = writeStored(out, offset, seg ? seg.body : (part as Buffer));
    }
    crc = crc32Combine(crc, partCrc, partLen);
    total += partLen;
  }
  offset += FINAL_BLOCK.copy(out, offset);
  out.writeUInt32LE(crc >>> 0, offset);
  // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
  out.writeUInt32LE(total % 0x1_0000_0000, offset + 4);
  return out;
}

/**
 * One compressed segment as a gzip member, as three chunks to write in order: the shared header,
 * the segment itself (not copied) and its 13-byte tail (final block + trailer). A hit served this
 * way costs no compression and no copy of the body.
 */
export function gzipWrap(seg: Segment): [Buffer, Buffer, Buffer] {
  const tail = Buffer.allocUnsafe(FINAL_BLOCK.length + TRAILER);
  FINAL_BLOCK.copy(tail, 0);
  tail.writeUInt32LE(segmentCrc32(seg) >>> 0, FINAL_BLOCK.length);
  tail.writeUInt32LE(seg.rawLength % 0x1_0000_0000, FINAL_BLOCK.length + 4);
  return [GZIP_HEADER, seg.body, tail];
}

function storedSize(n: number): number {
  return n + STORED_HEADER * Math.ceil(n / STORED_MAX);
}

function splicedSize(parts: ReadonlyArray<Buffer | Segment>): number {
  let size = GZIP_HEADER.length + FINAL_BLOCK.length + TRAILER;
  for (const part of parts) {
    if (Buffer.isBuffer(part)) size += storedSize(part.length);
    else size += part.compressed ? part.body.length : storedSize(part.body.length);
  }
  return size;
}

/** Writes data as non-final stored blocks; the stream is byte-aligned before and after. */
function writeStored(out: Buffer, offset: number, data: Buffer): number {
  for (let start = 0; start < data.length; start += STORED_MAX) {
    const len = Math.min(STORED_MAX, data.length - start);
    out[offset] = 0x00; // BFINAL=0, BTYPE=00; the 5 padding bits are zero
    out.writeUInt16LE(len, offset + 1);
    out.writeUInt16LE(~len & 0xffff, offset + 3);
    offset += STORED_HEADER;
    offset += data.copy(out, offset, start, start + len);
  }
  return offset;
}

// --- CRC-32 combination (zlib's crc32_combine, GF(2) matrix method) -------------------------------
//
// Appending n zero bytes to a message is a linear operator on its CRC register, a 32×32 matrix over
// GF(2). crc(A‖B) = zeros(len B)·crc(A) ⊕ crc(B). zlib builds the operator for len B by repeated
// squaring on each call; the operators for 2^k zero bytes never change, so they are built once here
// and a combine is just one matrix-vector product per set bit of len B.

type Gf2Matrix = Uint32Array<ArrayBuffer>; // row i = image of bit i

function gf2Times(mat: Gf2Matrix, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) {
    if (vec & 1) sum ^= mat[i] ?? 0;
  }
  return sum >>> 0;
}

function gf2Square(mat: Gf2Matrix): Gf2Matrix {
  const sq = new Uint32Array(32);
  for (let n = 0; n < 32; n++) sq[n] = gf2Times(mat, mat[n] ?? 0);
  return sq;
}

/** ZEROS[k] appends 2^k zero bytes; 53 covers every safe-integer length. */
const ZEROS: Gf2Matrix[] = (() => {
  const oneBit = new Uint32Array(32);
  oneBit[0] = 0xedb88320; // the reflected CRC-32 polynomial
  for (let n = 1; n < 32; n++) oneBit[n] = (1 << (n - 1)) >>> 0;
  let op: Gf2Matrix = oneBit;
  for (let i = 0; i < 3; i++) op = gf2Square(op); // 1 → 2 → 4 → 8 zero bits = one zero byte
  const ops = [op];
  for (let k = 1; k < 53; k++) ops.push((op = gf2Square(op)));
  return ops;
})();

/** CRC-32 of A‖B from crc(A), crc(B) and the length of B. */
export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  let crc = crcA >>> 0;
  for (let k = 0, n = lenB; n > 0; k++, n = Math.floor(n / 2)) {
    const op = ZEROS[k];
    if (n % 2 === 1 && op) crc = gf2Times(op, crc);
  }
  return (crc ^ crcB) >>> 0;
}
