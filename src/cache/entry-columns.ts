// An L1 entry's fields kept in columns indexed by the LRU's slot, not as objects of its own.
//
// Why: a miss-heavy load (a JSON-RPC batch of 20 new calls, say) stores an entry per call into a
// full L1 and pushes the oldest out, tens of thousands a second. As objects, each stored entry was
// five on the heap (the entry, its three epoch-ms timestamps boxed as heap numbers, its body's
// Buffer view) that the scavenger copied before promoting them, and that then churned through old
// space: in the batch benchmark (bench/FINDINGS.md, seventh pass) an L1 of 1 MiB instead of 64 MiB
// cut the CPU per batch by a fifth, all of it GC. Here a stored entry is numbers in one
// Float64Array and two references to things it shares with others (its header set, see
// stored-entry.ts sharedHeaders, and the ArrayBuffer its body lies in, often a slab of small
// bodies: buffers.ts BodySlab); only its key is a string of its own.
//
// An entry is made an object again when it is first read (memory-store.ts keeps that object
// from then on: hits share it, and what its readers cache on it, its CRC or the prepared header
// list of response/write.ts, stays with it). Most entries of such a load are never read.
import type { CacheEntry } from './types.js';

type HeaderSet = CacheEntry['headers'];

// The numbers of one slot, in one row of STRIDE doubles (all of them exact in a double:
// epoch ms, byte counts, a CRC-32 or CRC_UNKNOWN, a status).
const STRIDE = 8;
const STATUS = 0;
const COMPRESSED = 1;
const CRC32 = 2;
const RAW_LENGTH = 3;
const STORED_AT = 4;
const EXPIRES_AT = 5;
/** NaN: the entry had no staleUntil. */
const STALE_UNTIL = 6;
const BODY_OFFSET = 7;

/**
 * Until when the store keeps an entry: its staleUntil when later than expiresAt (it may be served
 * stale until then), else expiresAt. An absent staleUntil, undefined or a column's NaN, compares
 * false and so keeps it until expiresAt.
 */
export function keptUntil(expiresAt: number, staleUntil: number | undefined): number {
  return staleUntil !== undefined && staleUntil > expiresAt ? staleUntil : expiresAt;
}

export class EntryColumns {
  private numbers = new Float64Array(0);
  /** The body's length; in its own column so a row is a power of two. */
  private bodyLengths = new Float64Array(0);
  private headers: Array<HeaderSet | undefined> = [];
  private buffers: Array<ArrayBufferLike | undefined> = [];

  /** Room for `slots` slots, keeping what the first ones hold. */
  grow(slots: number): void {
    if (slots * STRIDE <= this.numbers.length) return;
    const numbers = new Float64Array(slots * STRIDE);
    numbers.set(this.numbers);
    this.numbers = numbers;
    const lengths = new Float64Array(slots);
    lengths.set(this.bodyLengths);
    this.bodyLengths = lengths;
  }

  /** Keeps entry's fields in slot (the entry object itself is not kept). */
  write(slot: number, entry: CacheEntry): void {
    const n = this.numbers;
    const at = slot * STRIDE;
    const body = entry.body;
    n[at + STATUS] = entry.status;
    n[at + COMPRESSED] = entry.compressed ? 1 : 0;
    n[at + CRC32] = entry.crc32;
    n[at + RAW_LENGTH] = entry.rawLength;
    n[at + STORED_AT] = entry.storedAt;
    n[at + EXPIRES_AT] = entry.expiresAt;
    n[at + STALE_UNTIL] = entry.staleUntil === undefined ? NaN : entry.staleUntil;
    n[at + BODY_OFFSET] = body.byteOffset;
    this.bodyLengths[slot] = body.length;
    this.headers[slot] = entry.headers;
    this.buffers[slot] = body.buffer;
  }

  /**
   * The entry slot holds, as a new object: the fields of stored-entry.ts storedEntry in its order
   * (one hidden class for every entry), the body a view of the same bytes.
   */
  read(slot: number): CacheEntry {
    const n = this.numbers;
    const at = slot * STRIDE;
    const staleUntil = n[at + STALE_UNTIL] as number;
    return {
      status: n[at + STATUS] as number,
      headers: this.headers[slot] as HeaderSet,
      body: Buffer.from(this.buffers[slot] as ArrayBuffer, n[at + BODY_OFFSET] as number, this.bodyLengths[slot] as number),
      compressed: n[at + COMPRESSED] === 1,
      crc32: n[at + CRC32] as number,
      rawLength: n[at + RAW_LENGTH] as number,
      storedAt: n[at + STORED_AT] as number,
      expiresAt: n[at + EXPIRES_AT] as number,
      staleUntil: Number.isNaN(staleUntil) ? undefined : staleUntil,
    };
  }

  expiresAt(slot: number): number {
    return this.numbers[slot * STRIDE + EXPIRES_AT] as number;
  }

  /** keptUntil for the entry in slot. */
  keptUntil(slot: number): number {
    const at = slot * STRIDE;
    return keptUntil(this.numbers[at + EXPIRES_AT] as number, this.numbers[at + STALE_UNTIL] as number);
  }

  /** Drops what slot shares with other entries, so a slab or header set can go with its last entry. */
  release(slot: number): void {
    this.headers[slot] = undefined;
    this.buffers[slot] = undefined;
  }
}
