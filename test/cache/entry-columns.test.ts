// L1 keeps a stored entry's fields in columns by LRU slot (src/cache/entry-columns.ts) and makes it an
// object again on its first read. These check that what comes back is what went in, field for field,
// through slot reuse under eviction, and that an evicted slot lets go of its body's memory.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import zlib from 'node:zlib';
import t, { type Test } from 'tap';
import { BodySlab } from '../../src/buffers.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { CRC_UNKNOWN } from '../../src/response/gzip-splice.js';
import { Rng } from '../support/fuzz-rng.js';

const HEADER_SETS: CacheEntry['headers'][] = [[], [['content-type', 'application/json']], [['content-type', 'application/json'], ['x-aptos-block-height', '7']]];

function randomEntry(rng: Rng, slab: BodySlab, now: number): CacheEntry {
  const size = rng.int(200);
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = rng.int(256);
  // Small bodies as views into a shared slab (as a batch's results are stored), others in a buffer of their own.
  const body = size <= 128 && rng.chance(0.5) ? slab.pack(bytes) : bytes;
  const expiresAt = now + 60_000 + rng.int(1000);
  return {
    status: rng.chance(0.9) ? 200 : 203,
    headers: HEADER_SETS[rng.int(HEADER_SETS.length)] as CacheEntry['headers'],
    body,
    compressed: rng.chance(0.3),
    crc32: rng.chance(0.5) ? CRC_UNKNOWN : zlib.crc32(body),
    rawLength: size + rng.int(50),
    storedAt: now - rng.int(100),
    expiresAt,
    staleUntil: rng.chance(0.5) ? undefined : expiresAt + rng.int(5000),
  };
}

function sameFields(t: Test, got: CacheEntry | undefined, want: CacheEntry, what: string): boolean {
  if (got === undefined) return t.fail(`${what}: missing`);
  const ok =
    got.status === want.status &&
    got.headers === want.headers &&
    got.body.equals(want.body) &&
    got.compressed === want.compressed &&
    got.crc32 === want.crc32 &&
    got.rawLength === want.rawLength &&
    got.storedAt === want.storedAt &&
    got.expiresAt === want.expiresAt &&
    got.staleUntil === want.staleUntil;
  return ok ? true : t.same(got, want, what);
}

t.test('what a read gives back is what was stored for that key, through slot reuse under eviction', async (t) => {
  const rng = new Rng(12);
  // ~40 entries fit: most stores evict, so slots are freed and reused all the time.
  const store = new MemoryStore({ maxBytes: 48_000, maxEntryBytes: 4_000 });
  const last = new Map<string, CacheEntry>();
  const now = Date.now();
  let slab = new BodySlab(4096);
  let checked = 0;
  let bad = 0;
  for (let i = 0; i < 20_000; i++) {
    if (i % 16 === 0) slab = new BodySlab(4096);
    const key = `g:m:${rng.int(120)}`;
    if (rng.chance(0.5)) {
      const e = randomEntry(rng, slab, now);
      store.setSync(key, e);
      last.set(key, e);
    } else {
      const got = store.getSync(key);
      if (got === undefined) continue;
      checked++;
      if (!sameFields(t, got, last.get(key) as CacheEntry, `read ${i} of ${key}`)) bad++;
      if (bad > 3) break;
    }
  }
  t.equal(bad, 0, 'every read matched the last store of its key');
  t.ok(checked > 3000, `reads that found an entry: ${checked}`);
});

t.test('an entry read is one object from then on: what its readers keep on it stays', async (t) => {
  const store = new MemoryStore({ maxBytes: 1_000_000 });
  const body = Buffer.from('{"result":"0x2a"}');
  const now = Date.now();
  store.setSync('k', { status: 200, headers: [], body, compressed: false, crc32: CRC_UNKNOWN, rawLength: body.length, storedAt: now, expiresAt: now + 60_000, staleUntil: undefined });
  const first = store.getSync('k') as CacheEntry;
  t.not(first.body, body, 'the body is a view made on the first read');
  t.ok(first.body.equals(body));
  first.crc32 = zlib.crc32(first.body);
  const second = store.getSync('k');
  t.equal(second, first, 'the second read returns the first read object');
  t.equal(second?.crc32, zlib.crc32(body), 'with the CRC its first reader worked out');
  store.setSync('k', { ...first, crc32: CRC_UNKNOWN });
  t.not(store.getSync('k'), first, 'a store under the same key replaces the object');
});

t.test('an evicted or purged entry lets its body memory go', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const store = new MemoryStore({ maxBytes: 20_000, maxEntryBytes: 4_000 });
  const refs: Array<WeakRef<ArrayBuffer>> = [];
  const now = Date.now();
  const fill = (prefix: string, n: number): void => {
    for (let i = 0; i < n; i++) {
      const body = Buffer.allocUnsafeSlow(1500).fill(i);
      refs.push(new WeakRef(body.buffer as ArrayBuffer));
      store.setSync(`${prefix}${i}`, { status: 200, headers: [], body, compressed: false, crc32: CRC_UNKNOWN, rawLength: 1500, storedAt: now, expiresAt: now + 60_000, staleUntil: undefined });
    }
  };
  fill('a:', 8);
  for (let i = 0; i < 8; i++) store.getSync(`a:${i}`); // half read (made objects), half not
  fill('b:', 40); // pushes every a: entry out
  t.equal(store.getSync('a:0'), undefined, 'the first entries were evicted');
  await store.purge('b:');
  await new Promise((r) => setImmediate(r));
  gc();
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  t.equal(store.size, 0, 'no entry is held');
  t.equal(alive, 0, `bodies still reachable after eviction and purge: ${alive} of ${refs.length}`);
});
