// Buffers that a long-lived cache entry keeps.

/**
 * Slabs of small bodies packed by BodySlab: entries may keep a view of one (ownedCopy lets it
 * through). Weak: a slab is forgotten with its last entry.
 */
const slabs = new WeakSet<ArrayBufferLike>();

/**
 * The bytes in a buffer of their own. A cache entry must not keep alive the larger allocation a
 * slice points into: zlib's 16 KiB output chunk, a socket read, a whole JSON-RPC batch answer, the
 * shared 8 KiB pool slab that small Buffer.from copies land in. allocUnsafeSlow is never pooled.
 * A view of a BodySlab is kept as it is: the slab holds only bodies entries keep (see there).
 */
export function ownedCopy(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  if (slabs.has(b.buffer)) return b;
  const copy = Buffer.allocUnsafeSlow(b.length);
  b.copy(copy);
  return copy;
}

/** Bodies up to this size are packed (a 32-byte ABI word as JSON text is 68 bytes). */
export const SLAB_BODY_MAX = 128;
/** A slab holds at most this much. */
const SLAB_BYTES = 1024;

/**
 * Packs the small bodies of one upstream answer (a JSON-RPC batch's results) into shared slabs,
 * instead of an allocation of their own per stored entry: one ArrayBuffer for up to a kilobyte of
 * them, which the 20 results of a batch fill and leave together.
 *
 * Memory: an entry is charged its own bytes, and a slab lives while any entry viewing it does.
 * What an entry can keep alive beyond its own bytes is bounded by the slab size (1 KiB, about the
 * fixed overhead an entry is already charged), and the entries of one slab are stored together,
 * so they age out of the LRU together unless some are read again.
 */
export class BodySlab {
  private slab: Buffer | undefined = undefined;
  private used = 0;

  /** `expected`: the bytes that will be packed (sized exactly, so no slab has a tail of nothing). */
  constructor(private expected: number) {}

  /** An owned view holding b's bytes; b must be at most SLAB_BODY_MAX bytes. */
  pack(b: Buffer): Buffer {
    return this.packRange(b, 0, b.length);
  }

  /** pack(from.subarray(start, end)) without making that view first. */
  packRange(from: Buffer, start: number, end: number): Buffer {
    const length = end - start;
    let slab = this.slab;
    if (slab === undefined || this.used + length > slab.length) {
      slab = this.slab = Buffer.allocUnsafeSlow(Math.min(SLAB_BYTES, Math.max(this.expected, length)));
      slabs.add(slab.buffer);
      this.used = 0;
    }
    const at = this.used;
    from.copy(slab, at, start, end);
    this.used += length;
    this.expected -= length;
    return slab.subarray(at, at + length);
  }

  /**
   * Gives back the bytes of the last view packed (which must be `packed`), for one that turned out
   * not to be stored: the next pack reuses them, so the caller must drop every reference to that view.
   */
  unpackLast(packed: Buffer): void {
    if (this.slab === undefined || packed.buffer !== this.slab.buffer || packed.byteOffset + packed.length !== this.slab.byteOffset + this.used) {
      throw new Error('unpackLast: not the last view packed');
    }
    this.used -= packed.length;
    this.expected += packed.length;
  }
}
