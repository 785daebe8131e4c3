// Buffers that a long-lived cache entry keeps.

/**
 * The bytes in a buffer of their own. A cache entry must not keep alive the larger allocation a
 * slice points into: zlib's 16 KiB output chunk, a socket read, a whole JSON-RPC batch answer, the
 * shared 8 KiB pool slab that small Buffer.from copies land in. allocUnsafeSlow is never pooled.
 */
export function ownedCopy(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const copy = Buffer.allocUnsafeSlow(b.length);
  b.copy(copy);
  return copy;
}
