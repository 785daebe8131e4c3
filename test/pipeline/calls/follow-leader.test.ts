import t from 'tap';
import { isBounded } from '../../../src/coalesce/singleflight.js';
import { followLeader } from '../../../src/pipeline/calls/follow-leader.js';
import { joinFlight } from '../../../src/pipeline/calls/join-flight.js';
import { answer, makeRun, plan, slotsOf } from '../../support/call-steps.js';

t.test("a follower gets its leader's answer as coalesced, or its error", async (t) => {
  const run = makeRun();
  const slots = slotsOf(plan({ key: 'a' }), plan({ key: 'b' }), plan({ key: 'c' }));
  const a = run.flights.lead('a');
  const b = run.flights.lead('b');
  slots[0]!.flight = run.flights.join('a');
  slots[1]!.flight = run.flights.join('b');
  a.settle(answer('"A"'));
  b.fail(new Error('leader failed'));
  await followLeader(slots, run);
  t.equal(slots[0]?.result?.cache, 'coalesced');
  t.match(slots[1]?.result, { cache: 'error', error: { code: 'internal_error', message: 'leader failed' } });
  t.equal(slots[2]?.result, undefined, 'not a follower');
});

t.test('a follower waits no longer than its deadline', async (t) => {
  const run = makeRun({ timeoutMs: 50 });
  run.flights.lead('k');
  const slots = slotsOf(plan({ key: 'k' }));
  slots[0]!.flight = run.flights.join('k');
  await followLeader(slots, run);
  t.match(slots[0]?.result, { cache: 'error', error: { code: 'upstream_timeout' } });
});

t.test("an answer for the leader alone is left open for refetchExclusive", async (t) => {
  const run = makeRun();
  const leader = run.flights.lead('k');
  const slots = slotsOf(plan({ key: 'k' }));
  slots[0]!.flight = run.flights.join('k');
  leader.settle(answer('"session"', 200, { exclusive: true }));
  await followLeader(slots, run);
  t.equal(slots[0]?.result, undefined);
  t.equal(slots[0]?.refetch, true);
});

t.test('a follower joined by joinFlight is bounded by the flight: its own deadline, the shared call goes on', async (t) => {
  const run = makeRun({ timeoutMs: 30 });
  const leader = run.flights.lead('k');
  const slots = slotsOf(plan({ key: 'k' }));
  joinFlight(slots, run);
  t.ok(slots[0]?.flight && isBounded(slots[0].flight), 'joined with its deadline');
  const started = Date.now();
  await followLeader(slots, run);
  t.match(slots[0]?.result, { cache: 'error', error: { code: 'upstream_timeout' } });
  t.ok(Date.now() - started >= 25, 'not before its deadline');
  t.equal(run.flights.size, 1, 'the leader still owns the flight');
  leader.settle(answer('"late"'));
  t.equal(run.flights.size, 0);
});
