import { randomUUID } from 'node:crypto';
import t from 'tap';
import { InvalidParamsError, UpstreamUnavailableError } from '../../../src/errors.js';
import { staleIfError } from '../../../src/pipeline/calls/stale-if-error.js';
import { answer, bodyOf, entry, makeRun, plan, redisStore, slotsOf } from '../../support/call-steps.js';

const down = { ok: false as const, error: new UpstreamUnavailableError('all nodes down') };

t.test("a node failure is covered by the call's own expired entry, within the bound, and settles the flight", async (t) => {
  const run = makeRun();
  run.cache.memory.setSync('k', entry('"expired"', { expiresInMs: -500, staleMs: 60_000 }));
  const slots = slotsOf(plan({ key: 'k', staleIfErrorMs: 1_000 }), plan({ key: 'k2', staleIfErrorMs: 1_000 }));
  for (const s of slots) {
    s.fetched = down;
    s.leader = run.flights.lead(s.plan.key as string);
  }
  const follower = run.flights.join('k');
  await staleIfError(slots, run);
  t.equal(slots[0]?.result?.cache, 'stale');
  t.equal(bodyOf(slots[0]!), '"expired"');
  t.equal((await follower)?.entry.body.toString(), '"expired"');
  t.equal(slots[1]?.result, undefined, 'nothing older: the error stands (storeAndSettle)');
  slots[1]?.leader?.fail(down.error);
});

t.test('a 5xx answer counts as a node failure; a client error or a definite answer does not', async (t) => {
  const run = makeRun();
  for (const k of ['a', 'b', 'c']) run.cache.memory.setSync(k, entry(`"${k}"`, { expiresInMs: -10, staleMs: 60_000 }));
  const slots = slotsOf(plan({ key: 'a', staleIfErrorMs: 1_000 }), plan({ key: 'b', staleIfErrorMs: 1_000 }), plan({ key: 'c', staleIfErrorMs: 1_000 }));
  slots[0]!.fetched = { ok: true, answer: answer('bad gateway', 503) };
  slots[1]!.fetched = { ok: false, error: new InvalidParamsError('bad') };
  slots[2]!.fetched = { ok: true, answer: answer('{"error":"not found"}', 404) };
  await staleIfError(slots, run);
  t.equal(slots[0]?.result?.cache, 'stale');
  t.equal(slots[1]?.result, undefined, 'client error: passed on');
  t.equal(slots[2]?.result, undefined, "a node's 404 is the truth");
});

t.test('never older than the bound; bound 0 turns it off', async (t) => {
  const run = makeRun();
  run.cache.memory.setSync('k', entry('"old"', { expiresInMs: -5_000, staleMs: 60_000 }));
  const slots = slotsOf(plan({ key: 'k', staleIfErrorMs: 1_000 }), plan({ key: 'k', staleIfErrorMs: 0 }));
  for (const s of slots) s.fetched = down;
  await staleIfError(slots, run);
  t.ok(slots.every((s) => s.result === undefined));
});

t.test("the previous head's answer to a latest read, or the entry kept in L2", async (t) => {
  const remote = await redisStore(`lp-step-${randomUUID()}:`);
  t.teardown(() => remote.close());
  await remote.set('own', entry('"in redis"', { expiresInMs: -200, staleMs: 60_000 }));
  const run = makeRun({ remote });
  run.cache.memory.setSync('h:10', entry('"at 10"', { agoMs: 100 }));
  const slots = slotsOf(plan({ key: 'h:11', fallbackKey: 'h:10', staleIfErrorMs: 1_000 }), plan({ key: 'own', staleIfErrorMs: 1_000 }));
  for (const s of slots) s.fetched = down;
  await staleIfError(slots, run);
  t.equal(bodyOf(slots[0]!), '"at 10"');
  t.equal(bodyOf(slots[1]!), '"in redis"');
});
