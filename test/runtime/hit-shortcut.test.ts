import t from 'tap';
import { HitShortcut, RememberedKeys } from '../../src/runtime/hit-shortcut.js';

const PATH = '/v1/transactions/by_version/5';

t.test('a HEAD fingerprints like the GET it reads; other methods and bytes stay apart', async (t) => {
  const s = new HitShortcut();
  const fp = (method: string, query = '', headers = {}, body = '') => s.fingerprint(0, method, PATH, query, headers, Buffer.from(body));
  t.equal(fp('HEAD'), fp('GET'), 'HEAD shares the GET fingerprint');
  t.not(fp('POST'), fp('GET'));
  t.not(fp('HEAD', 'a=1'), fp('GET'));
  t.not(fp('HEAD', '', { accept: 'application/x-bcs' }), fp('GET'));
  t.not(s.fingerprint(1, 'HEAD', PATH, '', {}, Buffer.alloc(0)), fp('GET'), 'route index is part of it');
  t.equal(s.fingerprint(0, 'GET', PATH, '', {}, Buffer.alloc(5000)), undefined, 'big bodies never take the shortcut');
});

t.test('remembered keys: bounded, and a fingerprint looked up since it was last at the front survives eviction', async (t) => {
  const keys = new RememberedKeys(3);
  keys.set('a', 'ka', 'view');
  keys.set('b', 'kb', 'view');
  keys.set('c', 'kc', 'view');
  t.equal(keys.get('a')?.key, 'ka');
  keys.set('d', 'kd', 'view');
  t.equal(keys.size, 3, 'never more than the bound');
  t.equal(keys.get('b'), undefined, 'the oldest not looked up went');
  t.equal(keys.get('a')?.key, 'ka', 'the looked-up one had its second chance');
  t.equal(keys.get('c')?.key, 'kc');
  t.equal(keys.get('d')?.key, 'kd');
  // Every entry used: one pass clears the flags, then the oldest of them goes.
  keys.set('e', 'ke', 'view');
  t.equal(keys.size, 3);
  t.equal([...['a', 'c', 'd', 'e']].filter((k) => keys.get(k) !== undefined).length, 3, 'exactly one went');
});

t.test('remembered keys: setting a fingerprint again replaces its key and does not grow the map', async (t) => {
  const keys = new RememberedKeys(2);
  keys.set('a', 'k1', 'view');
  keys.set('a', 'k2', 'view');
  t.equal(keys.size, 1);
  t.equal(keys.get('a')?.key, 'k2');
});

t.test('remembered keys against a reference LRU-with-second-chance model over random traffic', async (t) => {
  const max = 50;
  const keys = new RememberedKeys(max);
  // Reference: an array in eviction order with used flags, the textbook CLOCK list.
  const ref: Array<{ fp: string; key: string; used: boolean }> = [];
  let seed = 11;
  let lookups = 0;
  const wrong: string[] = [];
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 5_000; i++) {
    const fp = `f${Math.floor(rnd() * 120)}`;
    if (rnd() < 0.6) {
      const got = keys.get(fp)?.key;
      const r = ref.find((e) => e.fp === fp);
      if (r) r.used = true;
      lookups++;
      if (got !== r?.key) wrong.push(`step ${i}: ${fp} gave ${String(got)}, model ${String(r?.key)}`);
    } else {
      const key = `k${i}`;
      keys.set(fp, key, 'view');
      const at = ref.findIndex((e) => e.fp === fp);
      if (at >= 0) ref.splice(at, 1);
      else if (ref.length >= max) {
        for (;;) {
          const first = ref.shift()!;
          if (!first.used) break;
          first.used = false;
          ref.push(first);
        }
      }
      ref.push({ fp, key, used: false });
    }
  }
  t.same(wrong.slice(0, 5), [], `${lookups} lookups agree with the model`);
  t.equal(keys.size, ref.length);
});
