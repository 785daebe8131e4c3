import t from 'tap';
import { LatencyWindow } from '../../src/upstream/latency-window.js';

const opts = { size: 100, minSamples: 20, quantile: 0.95, minMs: 50, maxMs: 2_000 };

t.test('the upper bound until enough answers are in', async (t) => {
  const w = new LatencyWindow(opts);
  for (let i = 0; i < 19; i++) w.record(5);
  t.equal(w.estimate(), 2_000);
  w.record(5);
  t.equal(w.estimate(), 50, 'then the quantile, raised to the lower bound');
});

t.test('the quantile of the window, bounded', async (t) => {
  const w = new LatencyWindow(opts);
  for (let i = 1; i <= 100; i++) w.record(i * 10);
  t.equal(w.quantile(0.95), 950);
  t.equal(w.quantile(0.5), 500);
  t.equal(w.estimate(), 950);
  for (let i = 0; i < 100; i++) w.record(10_000);
  t.equal(w.estimate(), 2_000, 'capped at the upper bound');
});

t.test('old answers leave the ring; bad samples are ignored', async (t) => {
  const w = new LatencyWindow({ ...opts, size: 20 });
  for (let i = 0; i < 20; i++) w.record(1_000);
  for (let i = 0; i < 20; i++) w.record(100);
  w.record(Number.NaN);
  w.record(-1);
  t.equal(w.samples, 20);
  t.equal(w.quantile(1), 100, 'only the last 20 count');
  t.equal(w.estimate(), 100);
});
