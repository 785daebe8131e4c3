import t from 'tap';
import { UpstreamTimeoutError } from '../../../src/errors.js';
import { storeAndSettle } from '../../../src/pipeline/calls/store-and-settle.js';
import { answer, makeRun, plan, slotsOf } from '../../support/call-steps.js';

t.test('an answer is stored, then settles the call (miss) and its flight', async (t) => {
  const run = makeRun();
  const slots = slotsOf(plan({ key: 'k' }), plan({}, { cls: 'write' }));
  slots[0]!.leader = run.flights.lead('k');
  const follower = run.flights.join('k');
  let storedBeforeSettle = false;
  run.store = (p, a) => {
    if (p.key === 'k') storedBeforeSettle = run.flights.size === 1;
    run.stored.push(p);
    return { ...a, node: 'stored' };
  };
  for (const s of slots) s.fetched = { ok: true, answer: answer('"x"') };
  await storeAndSettle(slots, run);
  t.ok(storedBeforeSettle, 'stored while the flight still stands: no gap between flight and cache');
  t.equal(slots[0]?.result?.cache, 'miss');
  t.equal(slots[1]?.result?.cache, 'bypass', 'no key: bypass');
  t.equal((await follower)?.node, 'stored', 'followers get what was stored');
});

t.test('an error settles the call and fails the flight with the same error', async (t) => {
  const run = makeRun();
  const err = new UpstreamTimeoutError('slow');
  const slots = slotsOf(plan({ key: 'k' }), plan({ key: 'open' }));
  slots[0]!.leader = run.flights.lead('k');
  const follower = run.flights.join('k');
  slots[0]!.fetched = { ok: false, error: err };
  await storeAndSettle(slots, run);
  t.same(slots[0]?.result, { cache: 'error', error: err });
  await t.rejects(follower!, err);
  t.equal(slots[1]?.result, undefined, 'a call without a fetched outcome is not this step\'s');
  t.same(run.stored, [], 'nothing stored');
});
