import t from 'tap';
import { FlightTable } from '../../src/coalesce/flight-table.js';
import { Rng } from '../support/fuzz-rng.js';

// Seeded (test/support/fuzz-rng.ts) so that a failing case can be replayed.

t.test('a flight table agrees with a Map through random sets, replacements and deletes', async (t) => {
  for (const seed of [1, 2, 3]) {
    const rng = new Rng(seed);
    const rand = (): number => rng.next();
    const table = new FlightTable<object>();
    const model = new Map<string, object>();
    // Few distinct short keys (long probe runs and many collisions) and growth past the initial size.
    const keyCount = seed === 1 ? 40 : 3000;
    let wrong = 0;
    for (let step = 0; step < 40_000; step++) {
      const key = seed === 3 ? `g:m:${Math.floor(rand() * keyCount)}` : `k${Math.floor(rand() * keyCount)}`;
      const r = rand();
      if (r < 0.45) {
        const value = {};
        table.set(key, value);
        model.set(key, value);
      } else if (r < 0.9) {
        // Mostly the current value; sometimes a stale one, which must leave the key alone.
        const current = model.get(key);
        const value = current !== undefined && rand() < 0.8 ? current : {};
        table.deleteIf(key, value);
        if (current === value) model.delete(key);
      } else if (table.get(key) !== model.get(key)) wrong++;
      if (table.size !== model.size) wrong++;
    }
    for (const [key, value] of model) if (table.get(key) !== value) wrong++;
    t.equal(wrong, 0, `seed ${seed}: every lookup and size as the Map's`);
  }
});

t.test('a deleted key is gone and the keys after it in its probe run are still found', async (t) => {
  const table = new FlightTable<string>();
  const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
  for (const k of keys) table.set(k, k);
  for (let i = 0; i < keys.length; i += 2) table.deleteIf(keys[i] as string, keys[i] as string);
  t.equal(table.size, 100);
  t.ok(keys.every((k, i) => table.get(k) === (i % 2 === 0 ? undefined : k)));
});
