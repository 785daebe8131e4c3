import { randomUUID } from 'node:crypto';
import t from 'tap';
import { Singleflight } from '../../../src/coalesce/singleflight.js';
import { redisHit } from '../../../src/pipeline/calls/redis-hit.js';
import type { Answer } from '../../../src/runtime/types.js';
import { bodyOf, entry, makeRun, plan, redisStore, slotsOf } from '../../support/call-steps.js';

t.test('an L2 hit settles the leader and its flight and lands in L1; a miss stays open', async (t) => {
  const remote = await redisStore(`lp-step-${randomUUID()}:`);
  t.teardown(() => remote.close());
  await remote.set('k', entry('"from redis"'));
  const flights = new Singleflight<Answer>();
  const run = makeRun({ remote, flights });
  const slots = slotsOf(plan({ key: 'k' }), plan({ key: 'absent' }));
  for (const s of slots) s.leader = flights.lead(s.plan.key as string);
  const follower = flights.join('k');
  await redisHit(slots, run);
  t.equal(slots[0]?.result?.cache, 'hit');
  t.equal(bodyOf(slots[0]!), '"from redis"');
  t.equal((await follower)?.entry.body.toString(), '"from redis"', 'the follower gets the L2 hit');
  t.ok(run.cache.memory.getSync('k'), 'copied into L1');
  t.equal(slots[1]?.result, undefined, 'L2 miss: goes on to the node');
  slots[1]?.leader?.settle({ entry: entry('x') });
});

t.test('without L2 the step costs no await; followers and unstorable calls are not looked up', async (t) => {
  const run = makeRun();
  const slots = slotsOf(plan({ key: 'k' }));
  t.equal(redisHit(slots, run), undefined, 'synchronous');
  const remote = await redisStore(`lp-step-${randomUUID()}:`);
  t.teardown(() => remote.close());
  await remote.set('k', entry('"x"'));
  const withRemote = makeRun({ remote });
  const others = slotsOf(plan({ key: 'k' }), plan({ key: 'k', store: false }));
  others[0]!.flight = new Promise(() => undefined);
  others[1]!.leader = withRemote.flights.lead('k');
  await redisHit(others, withRemote);
  t.ok(others.every((s) => s.result === undefined), 'a follower waits for its leader; a coalesce-only call asks the node');
});
