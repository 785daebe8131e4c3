import t from 'tap';
import { Singleflight } from '../../../src/coalesce/singleflight.js';
import { joinFlight } from '../../../src/pipeline/calls/join-flight.js';
import type { Answer } from '../../../src/runtime/types.js';
import { answer, makeRun, plan, slotsOf } from '../../support/call-steps.js';

t.test('the first call with a key leads, an identical one follows, a call without a key does neither', async (t) => {
  const flights = new Singleflight<Answer>();
  const run = makeRun({ flights });
  const slots = slotsOf(plan({ key: 'k' }), plan({ key: 'k' }), plan({}, { cls: 'write' }));
  await joinFlight(slots, run);
  t.ok(slots[0]?.leader, 'leader registered in the same step as the miss');
  t.equal(slots[0]?.flight, undefined);
  t.ok(slots[1]?.flight, 'the identical call of the same batch follows');
  t.equal(slots[1]?.leader, undefined);
  t.equal(slots[2]?.leader, undefined, 'writes are never coalesced');
  t.equal(slots[2]?.flight, undefined);
  t.ok(slots.every((s) => s.result === undefined), 'joining settles nothing');
  const shared = answer('"x"');
  slots[0]?.leader?.settle(shared);
  t.equal(await slots[1]?.flight, shared, 'the follower gets what the leader settled');
  t.equal(flights.size, 0, 'settling removes the flight');
});

t.test('a call of another request joins a flight already in the air', async (t) => {
  const flights = new Singleflight<Answer>();
  const leader = flights.lead('k');
  const run = makeRun({ flights });
  const slots = slotsOf(plan({ key: 'k' }));
  await joinFlight(slots, run);
  t.ok(slots[0]?.flight);
  leader.fail(new Error('boom'));
  await t.rejects(slots[0]!.flight!, /boom/, 'a failed leader fails its followers with the same error');
});
