import t, { type Test } from 'tap';
import { isBounded, Singleflight, withDeadline } from '../../src/coalesce/singleflight.js';

class DeadlineError extends Error {}

/** The rejection reason of p (fails the test when p resolves). */
async function rejection(t: Test, p: Promise<unknown>): Promise<unknown> {
  try {
    const v = await p;
    t.fail(`expected a rejection, got ${String(v)}`);
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Unhandled rejections seen while fn runs (and a few turns after it). */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    // Unhandled rejections are reported after the microtask queue drains.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 10));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

t.test('join before any leader finds nothing', async (t) => {
  const sf = new Singleflight<string>();
  t.equal(sf.join('k'), undefined);
  t.equal(sf.size, 0);
});

t.test('followers share the leader value; the key is removed on settle', async (t) => {
  const sf = new Singleflight<{ body: string }>();
  const leader = sf.lead('k');
  t.equal(sf.size, 1, 'leader registered before it settles');
  const f1 = sf.join('k');
  const f2 = sf.join('k');
  t.ok(f1 && f2, 'followers find the flight');
  t.equal(sf.join('other'), undefined, 'another key does not join');
  const value = { body: 'answer' };
  leader.settle(value);
  t.equal(sf.size, 0, 'removed as soon as it settles');
  const [a, b] = await Promise.all([f1, f2]);
  t.equal(a, value, 'follower 1 gets the very same object');
  t.equal(b, value, 'follower 2 gets the very same object');
  t.equal(sf.join('k'), undefined, 'a settled call is never joined after the fact');
});

t.test('a failure reaches every follower once, with the same error, and the key is removed', async (t) => {
  const sf = new Singleflight<string>();
  const leader = sf.lead('k');
  const followers = [sf.join('k'), sf.join('k'), sf.join('k')];
  const err = new Error('upstream down');
  leader.fail(err);
  t.equal(sf.size, 0, 'removed on fail');
  const outcomes = await Promise.allSettled(followers.map((f) => f as Promise<string>));
  t.equal(outcomes.length, 3);
  for (const o of outcomes) {
    t.equal(o.status, 'rejected');
    if (o.status === 'rejected') t.equal(o.reason, err, 'the same error object');
  }
  // Settling / failing again after the first outcome changes nothing for followers.
  leader.settle('late');
  leader.fail(new Error('second failure'));
  const again = await Promise.allSettled([followers[0] as Promise<string>]);
  t.equal(again[0]?.status, 'rejected', 'still the first outcome');
  t.equal(sf.size, 0);
});

t.test('the map does not grow over many settled and failed calls', async (t) => {
  const sf = new Singleflight<number>();
  for (let i = 0; i < 500; i++) {
    const l = sf.lead(`k${i}`);
    const f = sf.join(`k${i}`);
    if (i % 2 === 0) l.settle(i);
    else l.fail(new Error(`e${i}`));
    await (f as Promise<number>).catch(() => undefined);
  }
  t.equal(sf.size, 0);
});

t.test('a new leader after a settle starts a fresh flight; a stale leader does not remove it', async (t) => {
  const sf = new Singleflight<string>();
  const first = sf.lead('k');
  const firstFollower = sf.join('k');
  first.settle('one');
  const second = sf.lead('k');
  const secondFollower = sf.join('k');
  t.equal(sf.size, 1);
  // The first leader settling again must not delete the second flight.
  first.settle('stale');
  first.fail(new Error('stale'));
  t.equal(sf.size, 1, 'the second flight is still registered');
  second.settle('two');
  t.equal(await firstFollower, 'one');
  t.equal(await secondFollower, 'two');
  t.equal(sf.size, 0);
});

t.test('a leader that fails with no follower causes no unhandled rejection', async (t) => {
  const seen = await unhandledDuring(async () => {
    const sf = new Singleflight<string>();
    sf.lead('lonely').fail(new Error('nobody listens'));
    t.equal(sf.size, 0);
  });
  t.same(seen, [], 'no unhandledRejection event');
});

t.test('withDeadline resolves with the value in time', async (t) => {
  const v = await withDeadline(Promise.resolve(42), 1_000, () => new DeadlineError('late'));
  t.equal(v, 42);
});

t.test('withDeadline passes a rejection through', async (t) => {
  const err = new Error('boom');
  t.equal(await rejection(t, withDeadline(Promise.reject(err), 1_000, () => new DeadlineError('late'))), err);
});

t.test('withDeadline rejects with onTimeout() when the promise is too slow', async (t) => {
  let calls = 0;
  const never = new Promise<number>(() => undefined);
  const started = Date.now();
  const err = await rejection(
    t,
    withDeadline(never, 30, () => {
      calls++;
      return new DeadlineError('deadline');
    }),
  );
  t.ok(err instanceof DeadlineError, 'the error from onTimeout');
  t.ok(Date.now() - started >= 25, 'not before the deadline');
  t.equal(calls, 1, 'onTimeout called once');
});

t.test('withDeadline with a negative deadline times out at once', async (t) => {
  const err = await rejection(t, withDeadline(new Promise<number>(() => undefined), -5, () => new DeadlineError('now')));
  t.ok(err instanceof DeadlineError);
});

t.test('withDeadline clears its timer once the promise settles', async (t) => {
  // Count live timers through the public process API: a leaked 60 s timer would show up here.
  const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = activeTimers();
  let timeouts = 0;
  const ps: Array<Promise<unknown>> = [];
  for (let i = 0; i < 20; i++) {
    ps.push(withDeadline(Promise.resolve(i), 60_000, () => { timeouts++; return new DeadlineError('x'); }));
    ps.push(withDeadline(Promise.reject(new Error('r')), 60_000, () => { timeouts++; return new DeadlineError('x'); }).catch(() => undefined));
  }
  await Promise.all(ps);
  t.equal(activeTimers(), before, 'no timer left behind');
  t.equal(timeouts, 0, 'onTimeout never called');
});

t.test('a follower bounded by withDeadline times out, the leader can still settle later', async (t) => {
  const sf = new Singleflight<string>();
  const leader = sf.lead('k');
  const follower = sf.join('k') as Promise<string>;
  const err = await rejection(t, withDeadline(follower, 10, () => new DeadlineError('follower gave up')));
  t.ok(err instanceof DeadlineError, 'the follower gets its own deadline error');
  t.equal(sf.size, 1, 'the shared call is not cancelled by a follower giving up');
  const late = sf.join('k') as Promise<string>;
  leader.settle('done');
  t.equal(await late, 'done');
  t.equal(sf.size, 0);
});

t.test('joinBounded: followers get the value, the same error, and leave no timer behind', async (t) => {
  const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = activeTimers();
  const sf = new Singleflight<{ body: string }>();
  t.equal(sf.joinBounded('k', 1_000, () => new DeadlineError('late')), undefined, 'nothing to join before a leader');
  const leader = sf.lead('k');
  const followers = Array.from({ length: 50 }, () => sf.joinBounded('k', 60_000, () => new DeadlineError('late')) as Promise<{ body: string }>);
  t.ok(followers.every((f) => isBounded(f)), 'marked as bounded');
  t.notOk(isBounded(sf.join('k') as Promise<unknown>), 'a plain join is not');
  t.equal(activeTimers(), before + 1, 'one timer for the whole flight, not one per follower');
  const value = { body: 'answer' };
  leader.settle(value);
  t.equal(sf.size, 0);
  const got = await Promise.all(followers);
  t.ok(got.every((v) => v === value), 'every follower gets the very same object');
  t.equal(activeTimers(), before, 'the flight timer is cleared on settle');

  const failing = sf.lead('f');
  const waiting = [sf.joinBounded('f', 60_000, () => new DeadlineError('late')), sf.joinBounded('f', 60_000, () => new DeadlineError('late'))];
  const err = new Error('upstream down');
  failing.fail(err);
  failing.settle({ body: 'late' });
  for (const o of await Promise.allSettled(waiting as Array<Promise<unknown>>)) {
    t.equal(o.status, 'rejected');
    if (o.status === 'rejected') t.equal(o.reason, err, 'the same error object, and a later settle changes nothing');
  }
  t.equal(activeTimers(), before, 'no timer left after a failure');
});

t.test('joinBounded: each follower gives up at its own deadline; the flight goes on for the others', async (t) => {
  const sf = new Singleflight<string>();
  const leader = sf.lead('k');
  const started = Date.now();
  const late = sf.joinBounded('k', 5_000, () => new DeadlineError('never'));
  const early = sf.joinBounded('k', 30, () => new DeadlineError('early gave up'));
  // Joined last, but due before the first: the flight's timer must move earlier for it.
  const earliest = sf.joinBounded('k', 10, () => new DeadlineError('earliest gave up'));
  const e1 = await rejection(t, earliest as Promise<string>);
  t.ok(e1 instanceof DeadlineError && e1.message === 'earliest gave up', 'the earliest deadline fires first');
  const e2 = await rejection(t, early as Promise<string>);
  t.ok(e2 instanceof DeadlineError && e2.message === 'early gave up');
  t.ok(Date.now() - started >= 25, 'not before its deadline');
  t.equal(sf.size, 1, 'followers giving up cancel nothing');
  leader.settle('done');
  t.equal(await late, 'done', 'a follower with time left still gets the answer');
  const gone = sf.joinBounded('k', -1, () => new DeadlineError('x'));
  t.equal(gone, undefined, 'settled: nothing to join');
  const again = sf.lead('k');
  const past = sf.joinBounded('k', -5, () => new DeadlineError('already past'));
  t.ok((await rejection(t, past as Promise<string>)) instanceof DeadlineError, 'a deadline already past rejects at once');
  again.settle('x');
});

t.test('joinBounded: a follower whose leader fails before anyone awaits it causes no unhandled rejection', async (t) => {
  const seen = await unhandledDuring(async () => {
    const sf = new Singleflight<string>();
    const leader = sf.lead('k');
    sf.joinBounded('k', 1_000, () => new DeadlineError('late'));
    leader.fail(new Error('nobody listens yet'));
  });
  t.same(seen, [], 'no unhandledRejection event');
});
