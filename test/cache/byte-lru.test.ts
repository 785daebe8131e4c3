import t from 'tap';
import { ByteLru } from '../../src/cache/byte-lru.js';

/** The reference: a Map in recency order (least recent first), evicting before an insert like ByteLru. */
class ModelLru {
  readonly map = new Map<string, { v: number; size: number }>();
  bytes = 0;
  evicted = 0;
  constructor(private readonly max: number) {}
  get(k: string): number | undefined {
    const e = this.map.get(k);
    if (e === undefined) return undefined;
    this.map.delete(k);
    this.map.set(k, e);
    return e.v;
  }
  set(k: string, v: number, size: number): void {
    const old = this.map.get(k);
    if (old !== undefined) {
      this.map.delete(k);
      this.bytes -= old.size;
    } else {
      while (this.map.size > 0 && this.bytes + size > this.max) this.evictOldest();
    }
    this.map.set(k, { v, size });
    this.bytes += size;
    while (this.bytes > this.max && this.map.keys().next().value !== k) this.evictOldest();
  }
  delete(k: string): boolean {
    const e = this.map.get(k);
    if (e === undefined) return false;
    this.map.delete(k);
    this.bytes -= e.size;
    return true;
  }
  private evictOldest(): void {
    const [k, e] = this.map.entries().next().value as [string, { v: number; size: number }];
    this.map.delete(k);
    this.bytes -= e.size;
    this.evicted++;
  }
}

t.test('random operations agree with a reference LRU (values, order, bytes, evictions)', async (t) => {
  for (const keyCount of [5, 300, 5000]) {
    let evicted = 0;
    const lru = new ByteLru<number>(20_000, () => evicted++);
    const model = new ModelLru(20_000);
    let disagreements = 0;
    for (let i = 0; i < 60_000; i++) {
      const k = keyCount === 5000 ? `main:eth_call:${(i * 7919) % keyCount}` : `k${Math.floor(Math.random() * keyCount)}`;
      const op = Math.random();
      if (op < 0.45) {
        if (lru.get(k) !== model.get(k)) disagreements++;
      } else if (op < 0.9) {
        const size = 1 + Math.floor(Math.random() * 2_000);
        lru.set(k, i, size);
        model.set(k, i, size);
      } else if (lru.delete(k) !== model.delete(k)) disagreements++;
      if (lru.calculatedSize > 20_000) disagreements++;
    }
    t.equal(disagreements, 0, `${keyCount} keys: every lookup and delete agrees, the bound always holds`);
    t.equal(lru.size, model.map.size, 'same count');
    t.equal(lru.calculatedSize, model.bytes, 'same bytes');
    t.equal(evicted, model.evicted, 'same evictions');
    t.same([...lru.entries()].map(([k, v]) => [k, v]), [...model.map.entries()].reverse().map(([k, e]) => [k, e.v]), 'same recency order');
  }
});

t.test('grows past its first slots, and clear() empties it', async (t) => {
  const lru = new ByteLru<string>(1e9);
  for (let i = 0; i < 10_000; i++) lru.set(`g:m:${i}`, `v${i}`, 10);
  t.equal(lru.size, 10_000);
  t.equal(lru.calculatedSize, 100_000);
  let missing = 0;
  for (let i = 0; i < 10_000; i++) if (lru.get(`g:m:${i}`) !== `v${i}`) missing++;
  t.equal(missing, 0, 'every entry found after the slots doubled');
  lru.clear();
  t.equal(lru.size, 0);
  t.equal(lru.calculatedSize, 0);
  t.equal(lru.get('g:m:1'), undefined);
  lru.set('a', 'b', 1);
  t.equal(lru.get('a'), 'b', 'usable after clear');
  t.same([...lru.entries()], [['a', 'b']]);
});

t.test('a replaced entry that grew pushes out others, never itself', async (t) => {
  let evicted = 0;
  const lru = new ByteLru<number>(100, () => evicted++);
  lru.set('a', 1, 40);
  lru.set('b', 2, 40);
  lru.set('a', 3, 90);
  t.equal(lru.get('a'), 3);
  t.equal(lru.get('b'), undefined);
  t.equal(lru.calculatedSize, 90);
  t.equal(evicted, 1);
});
