import t from 'tap';
import { createHash } from 'node:crypto';
import { cacheKey, cachePrefix, isSharedKey } from '../../src/cache/key.js';

const base = { group: 'mainnet', callName: 'eth_call', keyMaterial: '{"to":"0x1","data":"0x"}', version: 19_000_000n, chain: 'evm-1' };

t.test('readable prefix, short hash, deterministic', async (t) => {
  const k = cacheKey(base);
  t.match(k, /^mainnet:eth_call:[A-Za-z0-9_-]{22}$/);
  t.equal(cacheKey({ ...base }), k);
  t.ok(k.startsWith(cachePrefix('mainnet')));
  t.ok(k.startsWith(cachePrefix('mainnet', 'eth_call')));
  t.equal(cachePrefix('mainnet', 'eth_call'), 'mainnet:eth_call:');
  const long = cacheKey({ ...base, keyMaterial: 'x'.repeat(100_000) });
  t.equal(long.length, 'mainnet:eth_call:'.length + 22, 'bounded whatever the material');
});

t.test('every field changes the key', async (t) => {
  const k = cacheKey(base);
  t.not(cacheKey({ ...base, group: 'testnet' }).slice(-22), k.slice(-22));
  t.not(cacheKey({ ...base, callName: 'eth_getBalance' }).slice(-22), k.slice(-22));
  t.not(cacheKey({ ...base, keyMaterial: base.keyMaterial + ' ' }), k);
  t.not(cacheKey({ ...base, version: 19_000_001n }), k);
  t.not(cacheKey({ ...base, chain: 'evm-137' }), k, 'the chain is part of the key');
});

t.test('a key whose chain is not known is local-only (never shared through L2)', async (t) => {
  const known = cacheKey(base);
  const unknown = cacheKey({ ...base, chain: undefined });
  t.ok(isSharedKey(known));
  t.notOk(isSharedKey(unknown));
  t.ok(unknown.startsWith(cachePrefix('mainnet', 'eth_call')), 'still purged by its group prefix');
  t.not(unknown.slice(-22), known.slice(-22));
});

t.test('fields cannot bleed into each other', async (t) => {
  const a = cacheKey({ group: 'g', callName: 'a:b', keyMaterial: 'c' });
  const b = cacheKey({ group: 'g', callName: 'a', keyMaterial: 'b:c' });
  t.not(a.slice(-22), b.slice(-22));
  const c = cacheKey({ group: 'g', callName: 'm', keyMaterial: 'x', version: '' });
  const d = cacheKey({ group: 'g', callName: 'm', keyMaterial: 'x' });
  t.not(c, d, 'no version differs from an empty version');
  const e = cacheKey({ group: 'g', callName: 'm', keyMaterial: 'x1', version: 2 });
  const f = cacheKey({ group: 'g', callName: 'm', keyMaterial: 'x', version: 12 });
  t.not(e, f);
});

t.test('a version is the same key whatever its JS type', async (t) => {
  const n = cacheKey({ ...base, version: 5 });
  t.equal(cacheKey({ ...base, version: 5n }), n);
  t.equal(cacheKey({ ...base, version: '5' }), n);
});

t.test('the hashed text carries a format version (keys of another format never meet)', async (t) => {
  // Pinned so that a change of the hashed text is a deliberate format bump, not an accident.
  t.equal(cacheKey(base), 'mainnet:eth_call:' + createHash('sha256').update('k2|7:mainnet8:eth_call24:{"to":"0x1","data":"0x"}9:v190000006:cevm-1').digest('base64url').slice(0, 22));
});
