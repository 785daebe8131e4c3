// The hedging core on its own: attempts are plain functions over named nodes whose timing each
// test sets, run on real timers; what is checked is who wins, who is aborted and why.
import t from 'tap';
import { Cancellation } from '../../src/upstream/cancel.js';
import { HedgeBudget } from '../../src/upstream/hedge-budget.js';
import { hedgedRace, LostRace, type RaceOptions } from '../../src/upstream/hedge-race.js';

interface Plan {
  /** ms until headers (undefined: never). */
  headersAt?: number;
  /** ms until the result (undefined: never, only an abort ends it). */
  doneAt?: number;
  final?: boolean;
}

interface Outcome {
  node: string;
  final: boolean;
  aborted?: unknown;
}

interface Log {
  started: string[];
  aborted: Map<string, unknown>;
  stalls: string[];
  stallEnds: string[];
  hedges: string[];
}

function setup(plans: Record<string, Plan>, extra: Partial<RaceOptions<string, Outcome>> = {}, hedgeTo: string[] = ['b']) {
  const log: Log = { started: [], aborted: new Map(), stalls: [], stallEnds: [], hedges: [] };
  const queue = [...hedgeTo];
  const opts: RaceOptions<string, Outcome> = {
    first: 'a',
    delayMs: 30,
    isFinal: (o) => o.final,
    pickHedge: () => queue.shift(),
    attempt: (node, signal, onHeaders) =>
      new Promise<Outcome>((resolve) => {
        log.started.push(node);
        const plan = plans[node] ?? {};
        const timers: NodeJS.Timeout[] = [];
        if (plan.headersAt !== undefined) timers.push(setTimeout(onHeaders, plan.headersAt));
        if (plan.doneAt !== undefined) timers.push(setTimeout(() => resolve({ node, final: plan.final ?? true }), plan.doneAt));
        signal.listen({
          cancelled: () => {
            timers.forEach(clearTimeout);
            log.aborted.set(node, signal.reason);
            resolve({ node, final: false, aborted: signal.reason });
          },
        });
      }),
    onHedge: (n) => log.hedges.push(n),
    onStall: (n) => log.stalls.push(n),
    onStallEnd: (n) => log.stallEnds.push(n),
    ...extra,
  };
  return { opts, log };
}

const settleAborts = () => new Promise((r) => setTimeout(r, 5));

t.test('an answer before the delay: no hedge', async (t) => {
  const { opts, log } = setup({ a: { headersAt: 5, doneAt: 10 } });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'a');
  t.notOk(r.hedged);
  await new Promise((res) => setTimeout(res, 50));
  t.same(log.started, ['a'], 'the timer was cleared');
  t.same(log.stalls, []);
});

t.test('no headers after the delay: the hedge goes out, wins, and the first is aborted as slow', async (t) => {
  const { opts, log } = setup({ a: {}, b: { headersAt: 5, doneAt: 10 } });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'b');
  t.ok(r.hedged);
  t.ok(r.hedgeWon);
  await settleAborts();
  const reason = log.aborted.get('a');
  t.ok(reason instanceof LostRace && reason.slow, 'the first lost without headers although it started first: slow');
  t.same(log.hedges, ['b']);
  t.same(log.stalls, ['a']);
  t.same(log.stallEnds, ['a'], 'the stall ends with the attempt');
});

t.test('headers before the delay: a slow body is not hedged', async (t) => {
  const { opts, log } = setup({ a: { headersAt: 5, doneAt: 80 } });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'a');
  t.notOk(r.hedged);
  t.same(log.started, ['a']);
});

t.test('the first answers after the hedge went out: it wins, the hedge is aborted without blame', async (t) => {
  const { opts, log } = setup({ a: { doneAt: 45 }, b: {} });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'a');
  t.ok(r.hedged);
  t.notOk(r.hedgeWon);
  await settleAborts();
  const reason = log.aborted.get('b');
  t.ok(reason instanceof LostRace && !reason.slow, 'the hedge started later: not slow');
});

t.test('a loser that was already answering is not slow', async (t) => {
  const { opts, log } = setup({ a: { headersAt: 40, doneAt: 200 }, b: { headersAt: 45, doneAt: 50 } });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'b');
  await settleAborts();
  const reason = log.aborted.get('a');
  t.ok(reason instanceof LostRace && !reason.slow);
  t.same(log.stallEnds, ['a'], 'headers ended the stall');
});

t.test('a failure of the first while the hedge runs: the hedge is waited for', async (t) => {
  const { opts } = setup({ a: { doneAt: 40, final: false }, b: { doneAt: 30 } });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'b');
  t.ok(r.result.final);
});

t.test('both fail: the race ends with the last failure, for the retry loop', async (t) => {
  // b starts at 30 ms and fails at 60 ms, after a (40 ms).
  const { opts } = setup({ a: { doneAt: 40, final: false }, b: { doneAt: 30, final: false } });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'b');
  t.notOk(r.result.final);
});

t.test('a failure before the delay ends the race at once, without a hedge', async (t) => {
  const { opts, log } = setup({ a: { doneAt: 5, final: false } });
  const r = await hedgedRace(opts);
  t.notOk(r.result.final);
  await new Promise((res) => setTimeout(res, 50));
  t.same(log.started, ['a']);
});

t.test('no delay (writes, sessions, hedging off): one attempt only', async (t) => {
  const { opts, log } = setup({ a: { doneAt: 60 } }, { delayMs: undefined });
  const r = await hedgedRace(opts);
  t.equal(r.node, 'a');
  t.same(log.started, ['a']);
  t.same(log.stalls, []);
});

t.test('the budget: an empty bucket sends no hedge, an unusable token is given back', async (t) => {
  const empty = new HedgeBudget(0);
  const a = setup({ a: { doneAt: 60 } }, { budget: empty });
  await hedgedRace(a.opts);
  t.same(a.log.started, ['a'], 'no hedge with a 0 % budget');
  t.equal(empty.denied, 1);
  t.same(a.log.stalls, ['a'], 'the stall is still reported: passive health learns without a hedge');

  const budget = new HedgeBudget(10, 1);
  const before = budget.available;
  const b = setup({ a: { doneAt: 60 } }, { budget }, []);
  await hedgedRace(b.opts);
  t.same(b.log.started, ['a'], 'no node to hedge to');
  t.ok(budget.available >= before, 'the token came back');
});

t.test('the request signal aborts every attempt', async (t) => {
  const ctl = new Cancellation();
  const { opts, log } = setup({ a: {}, b: {} }, { cancel: ctl });
  const race = hedgedRace(opts);
  setTimeout(() => ctl.abort(new Error('client gone')), 50);
  const r = await race;
  t.notOk(r.result.final);
  t.same([...log.aborted.keys()].sort(), ['a', 'b']);
  t.notOk(log.aborted.get('a') instanceof LostRace, 'aborted by the client, not by a lost race');
});

t.test('HedgeBudget: hedges stay within the share of requests plus the burst', async (t) => {
  const budget = new HedgeBudget(10);
  let hedges = 0;
  for (let i = 0; i < 1000; i++) {
    budget.noteRequest();
    if (budget.tryTake()) hedges++;
  }
  t.ok(hedges <= 1000 * 0.1 + 10, `${hedges} hedges for 1000 requests`);
  t.ok(hedges >= 1000 * 0.1, 'and the share is usable');
});

t.test('budget refused, then the first node is given up: the read fails over at once, outside the budget', async (t) => {
  let down = false;
  const failovers: string[] = [];
  const { opts, log } = setup({ a: {}, b: { doneAt: 5 } }, { budget: new HedgeBudget(0), givenUp: () => down, onFailover: (n) => failovers.push(n) });
  const race = hedgedRace(opts);
  setTimeout(() => { down = true; }, 50);
  const r = await race;
  t.equal(r.node, 'b');
  t.notOk(r.hedgeWon, 'a failover is not a hedge win');
  t.notOk(r.hedged, 'nor a hedge');
  t.same(failovers, ['b']);
  t.same(log.hedges, []);
  await settleAborts();
  const reason = log.aborted.get('a');
  t.ok(reason instanceof LostRace && reason.slow);
});
