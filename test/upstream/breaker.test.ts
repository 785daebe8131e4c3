import t from 'tap';
import { Breaker } from '../../src/upstream/breaker.js';

const config = { windowSize: 10, minSamples: 6, errorRate: 0.5, consecutiveFailures: 3, openMs: 1000 };

t.test('opens on consecutive failures, then half-opens after openMs with one trial', async (t) => {
  const b = new Breaker(config);
  t.equal(b.state(0), 'closed');
  b.record(false, 0);
  b.record(false, 0);
  t.equal(b.state(0), 'closed');
  t.same(b.record(false, 10), { from: 'closed', to: 'open' });
  t.notOk(b.isAvailable(500), 'no traffic while open');
  t.notOk(b.tryAcquire(999));
  t.equal(b.state(1010), 'half-open');
  t.ok(b.tryAcquire(1010), 'one trial');
  t.notOk(b.tryAcquire(1011), 'only one trial at a time');
  t.same(b.record(false, 1020), { from: 'half-open', to: 'open' }, 'a failed trial re-opens');
  t.equal(b.state(1500), 'open', 'the open period restarts');
  t.ok(b.tryAcquire(2030));
  t.same(b.record(true, 2040), { from: 'half-open', to: 'closed' });
  t.equal(b.consecutiveFailures, 0);
  t.equal(b.failureRate, 0, 'a closed breaker starts with a clean window');
});

t.test('opens on the error rate over the window once there are enough samples', async (t) => {
  const b = new Breaker({ ...config, consecutiveFailures: 100 });
  const outcomes = [true, false, true, false, true];
  for (const ok of outcomes) b.record(ok, 0);
  t.equal(b.state(0), 'closed', 'below minSamples');
  t.same(b.record(false, 0), { from: 'closed', to: 'open' }, '3 of 6 failed = 50%');
});

t.test('the window forgets old outcomes (ring buffer)', async (t) => {
  const b = new Breaker({ ...config, consecutiveFailures: 100, errorRate: 0.6 });
  for (let i = 0; i < 5; i++) b.record(false, 0);
  for (let i = 0; i < 5; i++) b.record(true, 0);
  t.equal(b.failureRate, 0.5);
  for (let i = 0; i < 10; i++) b.record(true, 0);
  t.equal(b.failureRate, 0, 'old failures fell out of the window');
  t.equal(b.state(0), 'closed');
});

t.test('a good probe closes an open breaker at once', async (t) => {
  const b = new Breaker(config);
  for (let i = 0; i < 3; i++) b.record(false, 0);
  t.equal(b.state(1), 'open');
  t.same(b.closeAfterProbe(2), { from: 'open', to: 'closed' });
  t.ok(b.isAvailable(3));
  t.equal(b.closeAfterProbe(4), undefined, 'no change when already closed');
});

t.test('stalled: no new requests while one is past the hedge delay without headers', async (t) => {
  const b = new Breaker(config);
  b.stall();
  t.notOk(b.isAvailable(0), 'a stalled node takes nothing new');
  t.notOk(b.tryAcquire(0));
  t.equal(b.state(0), 'closed', 'stalling is not a state change');
  b.stall();
  b.unstall();
  t.ok(b.stalled, 'two stalls need two ends');
  b.unstall();
  t.ok(b.isAvailable(0));
  b.unstall();
  t.ok(b.isAvailable(0), 'an extra unstall does not go negative');
  t.equal(b.failureRate, 0, 'nothing recorded');
});

t.test('release frees the half-open trial without recording an outcome', async (t) => {
  const b = new Breaker(config);
  for (let i = 0; i < 3; i++) b.record(false, 0);
  t.ok(b.tryAcquire(1000), 'the trial');
  t.notOk(b.isAvailable(1000));
  b.release(1000);
  t.equal(b.state(1000), 'half-open', 'still half-open: an aborted trial proves nothing');
  t.ok(b.tryAcquire(1001), 'the next request may be the trial');
});

t.test('slow failures after lost hedges open the breaker like any failure', async (t) => {
  const b = new Breaker(config);
  t.equal(b.record(false, 0), undefined);
  t.equal(b.record(false, 60), undefined);
  t.same(b.record(false, 120), { from: 'closed', to: 'open' }, 'three hedge delays, not three timeouts');
});
