import t from 'tap';
import { staleWhileRevalidate } from '../../../src/pipeline/calls/stale-while-revalidate.js';
import { bodyOf, entry, makeRun, plan, slotsOf } from '../../support/call-steps.js';

const latest = { key: 'h:11', fallbackKey: 'h:10', staleWhileRevalidateMs: 1_000 };

t.test("a leader of a latest read gets the previous head's young answer, and one refresh starts", async (t) => {
  const run = makeRun();
  run.cache.memory.setSync('h:10', entry('"at 10"', { agoMs: 200 }));
  const slots = slotsOf(plan(latest));
  slots[0]!.leader = run.flights.lead('h:11');
  await staleWhileRevalidate(slots, run);
  t.equal(slots[0]?.result?.cache, 'stale');
  t.equal(bodyOf(slots[0]!), '"at 10"');
  t.equal(run.refreshed.length, 1);
  t.equal(run.refreshed[0]?.[0]?.leader, slots[0]?.leader, 'the refresh owns the flight, so followers wait for the new head');
  t.equal(run.refreshed[0]?.[0]?.result, undefined, 'the refresh starts open');
});

t.test('no stale answer: too old, same key, bound 0, or not the leader', async (t) => {
  const run = makeRun();
  run.cache.memory.setSync('h:10', entry('"at 10"', { agoMs: 5_000 }));
  run.cache.memory.setSync('v:7', entry('"pinned"'));
  const slots = slotsOf(
    plan(latest),
    plan({ key: 'v:7', fallbackKey: 'v:7', staleWhileRevalidateMs: 1_000 }),
    plan({ ...latest, staleWhileRevalidateMs: 0 }),
    plan(latest),
  );
  for (const s of slots.slice(0, 3)) s.leader = run.flights.lead(`${s.index}`);
  slots[3]!.flight = new Promise(() => undefined);
  await staleWhileRevalidate(slots, run);
  t.ok(slots.every((s) => s.result === undefined));
  t.same(run.refreshed, []);
});
