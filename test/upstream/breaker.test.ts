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

t.test('late answers (recordSlow) open the breaker by the window rate, never by the consecutive count', async (t) => {
  const b = new Breaker(config);
  // Three late answers in a row: three consecutive failures would open, three slow ones do not.
  for (let i = 0; i < 3; i++) t.equal(b.recordSlow(i), undefined, `late answer ${i + 1}: still closed`);
  t.equal(b.consecutiveFailures, 0, 'the consecutive count did not grow');
  t.equal(b.state(10), 'closed');
  b.record(true, 10);
  b.record(true, 11);
  // Window: slow, slow, slow, ok, ok = 5 samples, below minSamples 6; the sixth (slow) makes 4/6.
  t.same(b.recordSlow(12), { from: 'closed', to: 'open' }, 'rate 4/6 over minSamples opens');
});

t.test('a late answer neither resets nor grows a run of failures', async (t) => {
  const b = new Breaker({ ...config, minSamples: 100 });
  b.record(false, 0);
  b.record(false, 1);
  b.recordSlow(2);
  t.equal(b.consecutiveFailures, 2, 'a late answer is not a success');
  t.same(b.record(false, 3), { from: 'closed', to: 'open' }, 'the third failure still opens');
});

t.test('a node that is late now and then stays in rotation', async (t) => {
  const b = new Breaker({ ...config, windowSize: 20, minSamples: 10 });
  // One late answer in ten, for long: 10 % against errorRate 0.5.
  for (let i = 0; i < 200; i++) t.equal(i % 10 === 0 ? b.recordSlow(i) : b.record(true, i), undefined);
  t.equal(b.state(200), 'closed');
});

t.test('a late half-open trial re-opens the breaker', async (t) => {
  const b = new Breaker(config);
  for (let i = 0; i < 3; i++) b.record(false, 0);
  t.equal(b.state(1000), 'half-open');
  t.ok(b.tryAcquire(1000), 'the trial');
  t.same(b.recordSlow(1100), { from: 'half-open', to: 'open' }, 'no faster than when it left');
  t.equal(b.state(1500), 'open', 'the open period restarts');
  t.ok(b.tryAcquire(2100), 'the next trial comes after openMs again');
});
