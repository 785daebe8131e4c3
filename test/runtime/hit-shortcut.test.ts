import t from 'tap';
import { decodePrint, HitShortcut, RememberedKeys } from '../../src/runtime/hit-shortcut.js';
import type { CallPlan } from '../../src/runtime/types.js';

type Slot = { used: boolean; key: string };
const slot = (key: string): Slot => ({ used: false, key });

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
  const keys = new RememberedKeys<string, Slot>(3);
  keys.set('a', slot('ka'));
  keys.set('b', slot('kb'));
  keys.set('c', slot('kc'));
  t.equal(keys.get('a')?.key, 'ka');
  keys.set('d', slot('kd'));
  t.equal(keys.size, 3, 'never more than the bound');
  t.equal(keys.get('b'), undefined, 'the oldest not looked up went');
  t.equal(keys.get('a')?.key, 'ka', 'the looked-up one had its second chance');
  t.equal(keys.get('c')?.key, 'kc');
  t.equal(keys.get('d')?.key, 'kd');
  // Every entry used: one pass clears the flags, then the oldest of them goes.
  keys.set('e', slot('ke'));
  t.equal(keys.size, 3);
  t.equal([...['a', 'c', 'd', 'e']].filter((k) => keys.get(k) !== undefined).length, 3, 'exactly one went');
});

t.test('remembered keys: setting a fingerprint again replaces its key and does not grow the map', async (t) => {
  const keys = new RememberedKeys<string, Slot>(2);
  keys.set('a', slot('k1'));
  keys.set('a', slot('k2'));
  t.equal(keys.size, 1);
  t.equal(keys.get('a')?.key, 'k2');
});

t.test('remembered keys against a reference LRU-with-second-chance model over random traffic', async (t) => {
  const max = 50;
  const keys = new RememberedKeys<string, Slot>(max);
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
      keys.set(fp, slot(key));
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

const plan = (key: string) => ({ call: { cls: 'immutable', rest: {}, name: 'view' }, ttlClass: 'immutable', store: true, key, forwardPin: undefined }) as unknown as CallPlan;

t.test('a fingerprint decodes back to its exact fields, whatever characters they hold', async (t) => {
  const s = new HitShortcut();
  const body = Buffer.from([0x7b, 0x3a, 0x7c, 0x00, 0xff, 0x80, 0x31, 0x3a]);
  const fp = s.fingerprint(3, 'HEAD', '/v1/a:b|c', 'x=1|2:3', { accept: 'a|:b', 'content-type': '12:|', 'content-encoding': 'é' }, body) as string;
  const p = decodePrint(fp);
  t.same({ ...p, body: [...p.body] }, { routeIndex: 3, read: 'GET', path: '/v1/a:b|c', query: 'x=1|2:3', accept: 'a|:b', type: '12:|', encoding: 'é', body: [...body] });
});

t.test('a remembered key is found for exactly the bytes that printed it, and for nothing else', async (t) => {
  const s = new HitShortcut();
  const body = Buffer.from('{"function":"0x1::coin::balance","arguments":["0x1"]}');
  const headers = { accept: 'application/json', 'content-type': 'application/json' };
  s.remember(s.fingerprint(0, 'POST', '/v1/view', 'ledger_version=5', headers, body) as string, plan('K'));
  t.equal(s.lookup(0, 'POST', '/v1/view', 'ledger_version=5', { ...headers }, Buffer.from(body))?.key, 'K', 'the same bytes, other objects');
  const other = Buffer.from(body);
  other[other.length - 3] = 0x32;
  t.equal(s.lookup(0, 'POST', '/v1/view', 'ledger_version=5', headers, other), undefined, 'one body byte differs');
  t.equal(s.lookup(0, 'POST', '/v1/view', 'ledger_version=6', headers, body), undefined, 'the query differs');
  t.equal(s.lookup(1, 'POST', '/v1/view', 'ledger_version=5', headers, body), undefined, 'another route');
  t.equal(s.lookup(0, 'PUT', '/v1/view', 'ledger_version=5', headers, body), undefined, 'another method');
  t.equal(s.lookup(0, 'POST', '/v1/view', 'ledger_version=5', { accept: 'application/x-bcs', 'content-type': 'application/json' }, body), undefined, 'another Accept');
  t.equal(s.lookup(0, 'POST', '/v1/view', 'ledger_version=5', { ...headers, 'content-encoding': 'gzip' }, body), undefined, 'a Content-Encoding');
  t.equal(s.lookup(0, 'POST', '/v1/view', 'ledger_version=5', headers, Buffer.concat([body, Buffer.from(' ')])), undefined, 'a longer body');
  s.remember(s.fingerprint(0, 'GET', '/v1/tx', '', {}, Buffer.alloc(0)) as string, plan('G'));
  t.equal(s.lookup(0, 'HEAD', '/v1/tx', '', {}, Buffer.alloc(0))?.key, 'G', 'a HEAD finds the GET');
  t.equal(s.lookup(0, 'GET', '/v1/tx', '', {}, Buffer.alloc(5000)), undefined, 'big bodies never take the shortcut');
});

t.test('lookups agree with a map keyed by the fingerprint string over random requests', async (t) => {
  const s = new HitShortcut();
  const model = new Map<string, string>();
  let seed = 5;
  const rnd = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * n);
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)] as T;
  const wrong: string[] = [];
  let found = 0;
  for (let i = 0; i < 4_000; i++) {
    const req = {
      route: rnd(2), method: pick(['GET', 'HEAD', 'POST']), path: pick(['/v1/a', '/v1/a:', '/v1/b']), query: pick(['', 'v=1', 'v=1|']),
      headers: pick([{}, { accept: 'x' }, { accept: 'x', 'content-type': 'y' }, { 'content-type': 'x' }]),
      body: Buffer.from(Array.from({ length: rnd(4) }, () => pick([0x31, 0x3a, 0x7c, 0xff]))),
    };
    const fp = s.fingerprint(req.route, req.method, req.path, req.query, req.headers, req.body) as string;
    const got = s.lookup(req.route, req.method, req.path, req.query, req.headers, req.body)?.key;
    if (got !== model.get(fp)) wrong.push(`${JSON.stringify(fp)}: ${String(got)} vs ${String(model.get(fp))}`);
    if (got !== undefined) found++;
    if (rnd(3) === 0) {
      s.remember(fp, plan(`k${i}`));
      model.set(fp, `k${i}`);
    }
  }
  t.same(wrong.slice(0, 5), []);
  t.ok(found > 1_000, `${found} lookups found a key`);
});
