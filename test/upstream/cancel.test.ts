// The buffered path's cancellation (cancel.ts) and the shared deadline heap (deadlines.ts), on
// their own: who is told, when, and that a call which ends in time leaves no timer behind.
import t from 'tap';
import { Cancellation, followSignal, type CancelListener } from '../../src/upstream/cancel.js';
import { cancelAtDeadline, clearDeadline, deadlineStats } from '../../src/upstream/deadlines.js';

const listener = () => {
  const seen: unknown[] = [];
  const l: CancelListener = { cancelled: (reason) => seen.push(reason) };
  return { l, seen };
};

t.test('a Cancellation is cancelled once, with the first reason, and tells its listener once', async (t) => {
  const c = new Cancellation();
  const { l, seen } = listener();
  c.listen(l);
  t.notOk(c.aborted);
  const first = new Error('first');
  c.abort(first);
  c.abort(new Error('second'));
  t.ok(c.aborted);
  t.equal(c.reason, first);
  t.same(seen, [first]);
});

t.test('a listener that left, or came after the abort, is not told', async (t) => {
  const c = new Cancellation();
  const { l, seen } = listener();
  c.listen(l);
  c.unlisten(l);
  c.abort('x');
  t.same(seen, []);
  const late = listener();
  c.listen(late.l);
  c.abort('y');
  t.same(late.seen, [], 'already cancelled: the caller checks `aborted` instead');
});

t.test('one listener at a time; unlisten leaves another listener alone', async (t) => {
  const c = new Cancellation();
  const a = listener();
  const b = listener();
  c.listen(a.l);
  t.throws(() => c.listen(b.l), /one listener at a time/);
  c.listen(a.l);
  c.unlisten(b.l);
  c.abort('r');
  t.same(a.seen, ['r']);
  t.same(b.seen, []);
});

t.test('followSignal mirrors an AbortSignal, before or after it aborted, and detaches', async (t) => {
  const ctl = new AbortController();
  const f = followSignal(ctl.signal);
  ctl.abort(new Error('gone'));
  t.ok(f.cancel.aborted);
  t.equal((f.cancel.reason as Error).message, 'gone');
  const pre = followSignal(AbortSignal.abort('already'));
  t.equal(pre.cancel.reason, 'already');
  const ctl2 = new AbortController();
  const g = followSignal(ctl2.signal);
  g.stop();
  ctl2.abort('late');
  t.notOk(g.cancel.aborted, 'stopped: the signal no longer reaches it');
});

t.test('deadlines fire at their time, earliest first, with the request-deadline reason', async (t) => {
  const now = performance.now();
  const order: number[] = [];
  const entries = [60, 20, 40].map((ms) => {
    const c = cancelAtDeadline(now + ms);
    c.listen({ cancelled: () => order.push(ms) });
    return c;
  });
  t.equal(deadlineStats().pending, 3);
  await new Promise((r) => setTimeout(r, 100));
  t.same(order, [20, 40, 60]);
  for (const c of entries) {
    t.ok(c.aborted);
    t.equal((c.reason as Error).message, 'request deadline');
    t.ok(performance.now() - now >= 60);
  }
  t.equal(deadlineStats().pending, 0);
});

t.test('a deadline that has passed is cancelled at once; a cleared one never fires', async (t) => {
  const past = cancelAtDeadline(performance.now() - 1);
  t.ok(past.aborted, 'already past');
  t.equal(deadlineStats().pending, 0);
  const soon = cancelAtDeadline(performance.now() + 20);
  const { l, seen } = listener();
  soon.listen(l);
  clearDeadline(soon);
  clearDeadline(soon);
  t.equal(deadlineStats().pending, 0);
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(soon.aborted);
  t.same(seen, []);
});

t.test('many calls that end in time share one timer and leave none pending', async (t) => {
  const before = deadlineStats().timersArmed;
  const base = performance.now() + 30_000;
  // Deadlines in any order and removed in any order (the heap keeps the earliest on top).
  const cs = Array.from({ length: 200 }, (_, i) => cancelAtDeadline(base + ((i * 7919) % 200)));
  const armed = deadlineStats().timersArmed - before;
  t.ok(armed <= 20, `${armed} timers for 200 deadlines (only an earlier deadline re-arms)`);
  for (let i = 0; i < cs.length; i += 2) clearDeadline(cs[i] as ReturnType<typeof cancelAtDeadline>);
  for (let i = 1; i < cs.length; i += 2) clearDeadline(cs[i] as ReturnType<typeof cancelAtDeadline>);
  t.equal(deadlineStats().pending, 0);
  t.notOk(cs.some((c) => c.aborted));
  const steady = deadlineStats().timersArmed;
  for (let i = 0; i < 100; i++) clearDeadline(cancelAtDeadline(base + 1_000 + i));
  t.equal(deadlineStats().timersArmed, steady, 'later deadlines while a timer is armed create none');
});

t.test('the heap stays ordered under random adds and removals', async (t) => {
  const now = performance.now();
  const live = new Set<ReturnType<typeof cancelAtDeadline>>();
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 300; i++) {
    if (live.size > 0 && rnd() < 0.4) {
      const victim = [...live][Math.floor(rnd() * live.size)] as ReturnType<typeof cancelAtDeadline>;
      clearDeadline(victim);
      live.delete(victim);
    } else live.add(cancelAtDeadline(now + 40 + rnd() * 40));
  }
  const fired: number[] = [];
  for (const c of live) c.listen({ cancelled: () => fired.push(c.at) });
  await new Promise((r) => setTimeout(r, 120));
  t.equal(fired.length, live.size, 'every remaining deadline fired');
  t.same(fired, [...fired].sort((a, b) => a - b), 'in deadline order');
  t.equal(deadlineStats().pending, 0);
});
