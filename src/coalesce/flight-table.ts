// The flights in progress by key (singleflight.ts). A Map did this, and under a batch load it was
// rebuilt all the time: a batch of 20 new calls puts 20 keys in and takes them out 5 ms later, so
// the number held swings between a few and a few thousand, and V8's ordered hash table grows and
// shrinks with it (a new backing store each time, ~1.6 KB per batch in the heap profile, and tens of
// kilobytes for the scavenger to copy when it is new). It also hashed every 60-character key in
// full on its first lookup.
//
// This table never shrinks: it is sized for the most flights seen at once. Open addressing with
// linear probing and deletion by backward shift (no tombstones), keyed by the same seeded tail hash
// as the L1 (cache/byte-lru.ts: cache keys end in a digest, so their tails are uniform). Any key
// works: a weaker spread costs probes, never a wrong flight, since a position matches by the whole key.
import { tailHash } from '../cache/byte-lru.js';

const INITIAL_CAPACITY = 64;

export class FlightTable<V> {
  /** Keys held. */
  size = 0;
  private keys: Array<string | undefined> = new Array(INITIAL_CAPACITY).fill(undefined);
  private values: Array<V | undefined> = new Array(INITIAL_CAPACITY).fill(undefined);
  private hashes = new Int32Array(INITIAL_CAPACITY);
  private mask = INITIAL_CAPACITY - 1;

  get(key: string): V | undefined {
    const at = this.find(key, tailHash(key));
    return at < 0 ? undefined : this.values[at];
  }

  /** Holds value under key, replacing what the key held. */
  set(key: string, value: V): void {
    const hash = tailHash(key);
    const found = this.find(key, hash);
    if (found >= 0) {
      this.values[found] = value;
      return;
    }
    // At most half full: probe runs stay short.
    if (2 * (this.size + 1) > this.keys.length) this.grow();
    this.put(key, value, hash);
    this.size++;
  }

  /** Removes key only while it still holds this value (a later flight for the key stays). */
  deleteIf(key: string, value: V): void {
    const at = this.find(key, tailHash(key));
    if (at < 0 || this.values[at] !== value) return;
    this.removeAt(at);
    this.size--;
  }

  private find(key: string, hash: number): number {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === undefined) return -1;
      if (this.hashes[i] === hash && k === key) return i;
    }
  }

  private put(key: string, value: V, hash: number): void {
    const mask = this.mask;
    let i = hash & mask;
    while (this.keys[i] !== undefined) i = (i + 1) & mask;
    this.keys[i] = key;
    this.values[i] = value;
    this.hashes[i] = hash;
  }

  /** Empties position i and shifts the rest of its probe run back (Knuth's algorithm R). */
  private removeAt(i: number): void {
    const { keys, values, hashes, mask } = this;
    for (let j = (i + 1) & mask; keys[j] !== undefined; j = (j + 1) & mask) {
      const home = (hashes[j] as number) & mask;
      // The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        keys[i] = keys[j];
        values[i] = values[j];
        hashes[i] = hashes[j] as number;
        i = j;
      }
    }
    keys[i] = undefined;
    values[i] = undefined;
  }

  private grow(): void {
    const { keys, values, hashes } = this;
    const capacity = 2 * keys.length;
    this.keys = new Array(capacity).fill(undefined);
    this.values = new Array(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== undefined) this.put(k, values[i] as V, hashes[i] as number);
    }
  }
}
