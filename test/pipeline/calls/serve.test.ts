// The table as a whole: the order of the steps is the cache contract.
import t from 'tap';
import { Singleflight } from '../../../src/coalesce/singleflight.js';
import { InvalidParamsError } from '../../../src/errors.js';
import { serveCalls, StepRun } from '../../../src/pipeline/calls/serve.js';
import { callSteps } from '../../../src/pipeline/calls/table.js';
import type { Answer, CallPlan, Outcome } from '../../../src/runtime/types.js';
import { entry, makeRun, plan } from '../../support/call-steps.js';

t.test('the table reads like the contract', async (t) => {
  t.same(callSteps.map((s) => s.name), [
    'rejectInvalid', 'memoryHit', 'joinFlight', 'redisHit', 'staleWhileRevalidate',
    'fetchUpstream', 'staleIfError', 'storeAndSettle', 'followLeader', 'refetchExclusive',
  ]);
});

t.test('a batch: refused, hit, duplicate of its own miss, write — one upstream fetch, results in order', async (t) => {
  const run = makeRun({ flights: new Singleflight<Answer>() });
  run.cache.memory.setSync('hit', entry('"cached"'));
  const results = await serveCalls(
    [plan({ key: 'x' }, { reject: new InvalidParamsError('no') }), plan({ key: 'hit' }), plan({ key: 'm' }), plan({ key: 'm' }), plan({}, { cls: 'write' })],
    run,
  );
  t.same(results.map((r) => r.cache), ['error', 'hit', 'miss', 'coalesced', 'bypass']);
  t.same(run.fetches.map((f) => f.map((p) => p.key)), [['m', undefined]], 'the duplicate rode on its twin');
  t.equal(run.flights.size, 0, 'no flight left behind');
});

t.test('stale-while-revalidate: the client has its answer while the refresh settles the flight', async (t) => {
  const run = makeRun();
  run.cache.memory.setSync('h:10', entry('"at 10"'));
  const p = plan({ key: 'h:11', fallbackKey: 'h:10', staleWhileRevalidateMs: 5_000 });
  const results = await serveCalls([p], { ...run, fetch: run.fetch });
  t.equal(results[0]?.cache, 'stale');
  await t.resolves(async () => {
    for (let i = 0; i < 100 && run.flights.size > 0; i++) await new Promise((r) => setImmediate(r));
  });
  t.equal(run.flights.size, 0, 'the refresh settled the flight');
  t.same(run.fetches.map((f) => f.map((x) => x.key)), [['h:11']]);
});

t.test('a StepRun given as the deps is the run itself: its fetch method is called on it, once per fetch', async (t) => {
  const base = makeRun();
  const seen: Array<{ self: unknown; keys: Array<string | undefined> }> = [];
  class OwnRun extends StepRun {
    fetch(plans: CallPlan[]): Promise<Outcome[]> {
      seen.push({ self: this, keys: plans.map((p) => p.key) });
      return Promise.resolve(plans.map((p) => ({ ok: true as const, answer: { entry: entry(`"${p.key}"`), cacheable: false } })));
    }
  }
  const run = new OwnRun(base.cache, base.flights, 'g', 2_000, base.store);
  const one = await serveCalls([plan({ key: 'solo' })], run);
  t.same(one.map((r) => r.cache), ['miss']);
  const two = await serveCalls([plan({ key: 'a' }), plan({ key: 'b' })], run);
  t.same(two.map((r) => r.cache), ['miss', 'miss'], 'a batch goes through the same run');
  t.same(seen.map((s) => s.keys), [['solo'], ['a', 'b']]);
  t.ok(seen.every((s) => s.self === run), 'fetch ran with the run as this');
  t.equal(base.flights.size, 0, 'no flight left behind');
});
