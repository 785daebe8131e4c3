import t from 'tap';
import { memoryHit } from '../../../src/pipeline/calls/memory-hit.js';
import { bodyOf, entry, makeRun, plan, slotsOf } from '../../support/call-steps.js';

t.test('a stored fresh entry settles the call as a hit; a missing or expired one leaves it open', async (t) => {
  const run = makeRun();
  run.cache.memory.setSync('hit', entry('"cached"'));
  run.cache.memory.setSync('old', entry('"old"', { expiresInMs: -10, staleMs: 60_000 }));
  const slots = slotsOf(plan({ key: 'hit' }), plan({ key: 'miss' }), plan({ key: 'old' }));
  await memoryHit(slots, run);
  t.equal(slots[0]?.result?.cache, 'hit');
  t.equal(bodyOf(slots[0]!), '"cached"');
  t.equal(slots[1]?.result, undefined, 'miss stays open');
  t.equal(slots[2]?.result, undefined, 'an expired entry is no hit (only the stale steps may use it)');
});

t.test('a call whose plan may not be stored is never answered from the cache', async (t) => {
  const run = makeRun();
  run.cache.memory.setSync('k', entry('"cached"'));
  const slots = slotsOf(plan({ key: 'k', store: false }, { coalesceOnly: true }), plan({ store: false }, { cls: 'write' }));
  await memoryHit(slots, run);
  t.equal(slots[0]?.result, undefined, 'coalesce-only: the node must be asked');
  t.equal(slots[1]?.result, undefined, 'no key (write): never looked up');
});
