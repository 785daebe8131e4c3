// The LRU behind L1 (memory-store.ts): least recently used first out, bounded by the summed sizes
// its caller charges, not by a count. It replaces lru-cache there because a batch of 20 new calls
// puts 20 cold keys into a full L1: per call one lookup that misses, one insert and one eviction,
// and lru-cache does each through a JavaScript Map (string hashing, bucket chains, a second lookup
// inside set), which cost ~2.6 µs per call in the batch profile (bench/PROFILE-d.md).
//
// Layout: one slot per entry in parallel arrays (key, value, size, hash, LRU links), and an
// open-addressing index (linear probing, deletion by backward shift: no tombstones) from a key's
// hash to its slot. Slots and index double together when full; a freed slot is reused.
//
// The hash reads the last 8 characters of a key, seeded per process. Cache keys end with 22
// characters of a SHA-256 digest (cache/key.ts), so their tails are uniform; the seed keeps anyone
// who could choose keys from lining them up in one probe run (they cannot know it). Any key works
// (tests use 'k', 'g:m:1'): a weaker spread costs probes, never a wrong answer, since a slot is
// matched by the whole key.

export const NONE = -1;

/**
 * Told about the LRU's slots, for a caller that keeps more per entry in arrays of its own indexed by
 * slot (memory-store.ts keeps an entry's fields in columns): `grown` when there are `slots` slots
 * (at the start too), `released` when a slot's entry went (deleted, replaced by clear, evicted), so
 * the caller drops what it holds for it.
 */
export interface SlotListener {
  grown(slots: number): void;
  released(slot: number): void;
}

/** Slots to start with; doubled as needed (the byte bound decides how many are ever used). */
const INITIAL_SLOTS = 64;
const TAIL_CHARS = 8;
const SEED = (Math.random() * 0x100000000) | 0;

export function tailHash(key: string): number {
  let h = SEED ^ key.length;
  const from = key.length > TAIL_CHARS ? key.length - TAIL_CHARS : 0;
  for (let i = from; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  // Final mix (murmur3's fmix32): every input bit reaches the low bits the index uses.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class ByteLru<V> {
  /** Summed sizes of the entries held. */
  calculatedSize = 0;
  /** Entries held. */
  size = 0;
  private keys: Array<string | undefined> = [];
  private values: Array<V | undefined> = [];
  private sizes = new Float64Array(INITIAL_SLOTS);
  private hashes = new Int32Array(INITIAL_SLOTS);
  private prev = new Int32Array(INITIAL_SLOTS);
  private next = new Int32Array(INITIAL_SLOTS);
  /** slot + 1 per index position; 0: empty. Twice the slots: probe runs stay short. */
  private index = new Int32Array(2 * INITIAL_SLOTS);
  private mask = 2 * INITIAL_SLOTS - 1;
  /** Most recently used. */
  private head = NONE;
  /** Least recently used: the next to go. */
  private tail = NONE;
  /** Slots never used yet start here; freed slots are kept in `free`. */
  private fresh = 0;
  private readonly free: number[] = [];

  /** `onEvict` is told about each entry pushed out by the bound (not deleted, replaced or cleared). */
  constructor(
    readonly maxSize: number,
    private readonly onEvict: () => void = noop,
    private readonly slotListener?: SlotListener,
  ) {
    slotListener?.grown(INITIAL_SLOTS);
  }

  /** The value for key, made the most recently used; undefined when absent. */
  get(key: string): V | undefined {
    const slot = this.slotOf(key);
    return slot === NONE ? undefined : this.values[slot];
  }

  /** The slot holding key, made the most recently used; NONE when absent. Valid until the next change. */
  slotOf(key: string): number {
    const slot = this.find(key, tailHash(key));
    if (slot !== NONE) this.toFront(slot);
    return slot;
  }

  valueAt(slot: number): V | undefined {
    return this.values[slot];
  }

  setValueAt(slot: number, value: V | undefined): void {
    this.values[slot] = value;
  }

  keyAt(slot: number): string {
    return this.keys[slot] as string;
  }

  has(key: string): boolean {
    return this.find(key, tailHash(key)) !== NONE;
  }

  /**
   * Stores value under key charged `size`, pushing out the least recently used until it fits.
   * Returns the key's slot (a replaced key keeps its slot, and is `released` first).
   */
  set(key: string, value: V | undefined, size: number): number {
    const hash = tailHash(key);
    let slot = this.find(key, hash);
    if (slot !== NONE) {
      this.calculatedSize -= this.sizes[slot] as number;
      this.slotListener?.released(slot);
      this.values[slot] = value;
      this.toFront(slot);
    } else {
      this.makeRoom(size);
      slot = this.newSlot();
      this.keys[slot] = key;
      this.values[slot] = value;
      this.hashes[slot] = hash;
      this.place(slot, hash);
      this.link(slot);
      this.size++;
    }
    this.sizes[slot] = size;
    this.calculatedSize += size;
    // A replaced entry that grew: the others make room (it is the most recent, so it goes last).
    while (this.calculatedSize > this.maxSize && this.tail !== slot) this.evictTail();
    return slot;
  }

  delete(key: string): boolean {
    const slot = this.find(key, tailHash(key));
    if (slot === NONE) return false;
    this.remove(slot);
    return true;
  }

  clear(): void {
    if (this.slotListener) for (let s = this.head; s !== NONE; s = this.next[s] as number) this.slotListener.released(s);
    this.keys = [];
    this.values = [];
    this.index.fill(0);
    this.free.length = 0;
    this.fresh = 0;
    this.head = this.tail = NONE;
    this.size = 0;
    this.calculatedSize = 0;
  }

  /** [key, value] from the most to the least recently used. Do not change the LRU while iterating. */
  *entries(): IterableIterator<[string, V | undefined]> {
    for (let s = this.head; s !== NONE; s = this.next[s] as number) yield [this.keys[s] as string, this.values[s]];
  }

  /** The slots in use, from the most to the least recently used. Do not change the LRU while iterating. */
  *slots(): IterableIterator<number> {
    for (let s = this.head; s !== NONE; s = this.next[s] as number) yield s;
  }

  private find(key: string, hash: number): number {
    const index = this.index;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const at = index[i] as number;
      if (at === 0) return NONE;
      const slot = at - 1;
      if (this.hashes[slot] === hash && this.keys[slot] === key) return slot;
    }
  }

  /** Evicts before inserting, so the bound holds at every moment (as lru-cache did). */
  private makeRoom(size: number): void {
    while (this.size > 0 && this.calculatedSize + size > this.maxSize) this.evictTail();
  }

  private evictTail(): void {
    this.remove(this.tail);
    this.onEvict();
  }

  private newSlot(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.fresh === this.sizes.length) this.grow();
    return this.fresh++;
  }

  private remove(slot: number): void {
    this.unplace(slot);
    this.unlink(slot);
    this.calculatedSize -= this.sizes[slot] as number;
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.slotListener?.released(slot);
    this.free.push(slot);
    this.size--;
  }

  private place(slot: number, hash: number): void {
    const mask = this.mask;
    let i = hash & mask;
    while (this.index[i] !== 0) i = (i + 1) & mask;
    this.index[i] = slot + 1;
  }

  /** Removes slot from the index and shifts the rest of its probe run back (Knuth's algorithm R). */
  private unplace(slot: number): void {
    const index = this.index;
    const mask = this.mask;
    let i = (this.hashes[slot] as number) & mask;
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const at = index[j] as number;
      if (at === 0) break;
      const home = (this.hashes[at - 1] as number) & mask;
      // The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        index[i] = at;
        i = j;
      }
    }
    index[i] = 0;
  }

  private link(slot: number): void {
    this.prev[slot] = NONE;
    this.next[slot] = this.head;
    if (this.head !== NONE) this.prev[this.head] = slot;
    else this.tail = slot;
    this.head = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot] as number;
    const n = this.next[slot] as number;
    if (p !== NONE) this.next[p] = n;
    else this.head = n;
    if (n !== NONE) this.prev[n] = p;
    else this.tail = p;
  }

  private toFront(slot: number): void {
    if (slot === this.head) return;
    this.unlink(slot);
    this.link(slot);
  }

  private grow(): void {
    const slots = 2 * this.sizes.length;
    this.sizes = copyInto(new Float64Array(slots), this.sizes);
    this.hashes = copyInto(new Int32Array(slots), this.hashes);
    this.prev = copyInto(new Int32Array(slots), this.prev);
    this.next = copyInto(new Int32Array(slots), this.next);
    this.index = new Int32Array(2 * slots);
    this.mask = 2 * slots - 1;
    for (let s = this.head; s !== NONE; s = this.next[s] as number) this.place(s, this.hashes[s] as number);
    this.slotListener?.grown(slots);
  }
}

function copyInto<T extends Float64Array | Int32Array>(to: T, from: T): T {
  to.set(from);
  return to;
}

function noop(): void {}
