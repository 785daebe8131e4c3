// The hot-path cells must expose exactly what prom-client would have for the same events: the same
// series, labels, buckets, sums and counts, in the same order, however the events and the scrapes
// interleave. Each case feeds one prom-client metric directly and a twin (same name, own registry)
// through its cells, and compares the two /metrics texts.
import client from 'prom-client';
import t from 'tap';
import { CounterCells, GaugeCell, HistogramCells } from '../../src/metrics/cells.js';
import { requestDuration, requestDurationCells, registry } from '../../src/metrics/metrics.js';

const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function histogramPair() {
  const make = () => {
    const registry = new client.Registry();
    const histogram = new client.Histogram({ name: 'x_duration_seconds', help: 'h', labelNames: ['route', 'cache'] as const, buckets, registers: [registry] });
    return { registry, histogram };
  };
  const direct = make();
  const celled = make();
  const cells = new HistogramCells(celled.histogram, ['route', 'cache']);
  return {
    observe(route: string, cache: string, v: number) {
      direct.histogram.observe({ route, cache }, v);
      cells.observe([route, cache], v);
    },
    texts: async () => [await celled.registry.metrics(), await direct.registry.metrics()] as const,
    direct,
    celled,
    cells,
  };
}

/** Deterministic values spread over every bucket, on the bounds themselves and above the last one. */
function values(n: number): number[] {
  const out: number[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(i % 7 === 0 ? (buckets[i % buckets.length] as number) : i % 11 === 0 ? 31 + i : (x / 2 ** 31) ** 4 * 12);
  }
  return out;
}

t.test('histogram cells expose what prom-client exposes for the same observations', async (t) => {
  const pair = histogramPair();
  const labelSets = [['aptos', 'hit'], ['aptos', 'miss'], ['evm', 'hit'], ['none', 'error']] as const;
  let i = 0;
  for (const v of values(5000)) {
    const [route, cache] = labelSets[i++ % labelSets.length] as readonly [string, string];
    pair.observe(route, cache, v);
    if (i % 1234 === 0) {
      const [celled, direct] = await pair.texts();
      t.equal(celled, direct, `after ${i} observations`);
    }
  }
  const [celled, direct] = await pair.texts();
  t.match(direct, /x_duration_seconds_bucket\{le="0.0005",route="aptos",cache="hit"\} \d+/);
  t.match(direct, /x_duration_seconds_sum\{route="evm",cache="hit"\} \d+\.\d+/);
  t.equal(celled, direct, 'final scrape');
  t.same(await pair.celled.histogram.get(), await pair.direct.histogram.get(), 'get() alike');
  // A scrape with nothing new changes nothing.
  t.equal((await pair.texts())[0], celled);
});

t.test('histogram cells follow a reset, and series observed both ways add up', async (t) => {
  const pair = histogramPair();
  pair.observe('aptos', 'hit', 0.002);
  pair.direct.registry.resetMetrics();
  pair.celled.registry.resetMetrics();
  pair.observe('aptos', 'hit', 0.02);
  pair.observe('evm', 'miss', 0.3);
  let [celled, direct] = await pair.texts();
  t.equal(celled, direct, 'observations before the reset are gone, as prom-client drops them');
  // Another caller observing straight into the histogram (the pass-through path does) between folds.
  pair.direct.histogram.observe({ route: 'aptos', cache: 'hit' }, 0.004);
  pair.celled.histogram.observe({ route: 'aptos', cache: 'hit' }, 0.004);
  pair.observe('aptos', 'hit', 0.0001);
  [celled, direct] = await pair.texts();
  const counts = (text: string) => text.split('\n').filter((l) => !l.includes('_sum'));
  t.same(counts(celled), counts(direct), 'buckets and counts alike');
  const sum = (text: string) => Number(/x_duration_seconds_sum\{route="aptos",cache="hit"\} (\S+)/.exec(text)?.[1]);
  t.ok(Math.abs(sum(celled) - sum(direct)) < 1e-12, 'sum alike (within rounding: the order of the additions differs)');
});

t.test('histogram cells refuse what prom-client refuses', async (t) => {
  const pair = histogramPair();
  t.throws(() => pair.cells.observe(['aptos', 'hit'], Number.NaN), TypeError);
  t.throws(() => pair.direct.histogram.observe({ route: 'aptos', cache: 'hit' }, Number.NaN), TypeError);
  const [celled, direct] = await pair.texts();
  t.equal(celled, direct);
});

t.test('counter cells expose what prom-client exposes', async (t) => {
  const make = () => {
    const registry = new client.Registry();
    const counter = new client.Counter({ name: 'x_total', help: 'c', labelNames: ['group', 'call', 'cache'] as const, registers: [registry] });
    return { registry, counter };
  };
  const direct = make();
  const celled = make();
  const cells = new CounterCells(celled.counter, ['group', 'call', 'cache']);
  const events = [['a', 'view', 'hit', 1], ['a', 'view', 'miss', 1], ['b', 'eth_call', 'hit', 3], ['a', 'view', 'hit', 2]] as const;
  for (let round = 0; round < 3; round++) {
    for (const [group, call, cache, n] of events) {
      direct.counter.inc({ group, call, cache }, n);
      cells.inc([group, call, cache], n);
    }
    t.equal(await celled.registry.metrics(), await direct.registry.metrics(), `round ${round}`);
  }
  cells.inc(['a', 'view', 'hit']);
  direct.counter.inc({ group: 'a', call: 'view', cache: 'hit' });
  direct.registry.resetMetrics();
  celled.registry.resetMetrics();
  t.equal(await celled.registry.metrics(), await direct.registry.metrics(), 'after a reset');
});

t.test('a gauge cell is the gauge’s value when read', async (t) => {
  const registry = new client.Registry();
  const gauge = new client.Gauge({ name: 'x_inflight', help: 'g', registers: [registry] });
  const cell = new GaugeCell(gauge);
  cell.value += 3;
  cell.value--;
  t.match(await registry.metrics(), /^x_inflight 2$/m);
  t.same((await gauge.get()).values.map((v) => v.value), [2]);
});

t.test('the proxy’s request duration histogram is fed through its cells', async (t) => {
  requestDurationCells.observe(['cells-test-route', 'aptos-rest', 'hit'], 0.0003);
  const text = await registry.metrics();
  t.match(text, /ledgerproxy_request_duration_seconds_bucket\{le="0.0005",route="cells-test-route",dialect="aptos-rest",cache="hit"\} 1/);
  t.match(text, /ledgerproxy_request_duration_seconds_count\{route="cells-test-route",dialect="aptos-rest",cache="hit"\} 1/);
  const json = await requestDuration.get();
  t.ok(json.values.some((v) => v.labels['route'] === 'cells-test-route' && v.metricName === 'ledgerproxy_request_duration_seconds_sum' && v.value === 0.0003));
});

t.test('cells keep no reference to the label array: one array refilled per event counts each series apart', async (t) => {
  const make = () => {
    const registry = new client.Registry();
    const counter = new client.Counter({ name: 'x_total', help: 'c', labelNames: ['group', 'cache'] as const, registers: [registry] });
    const histogram = new client.Histogram({ name: 'x_duration_seconds', help: 'h', labelNames: ['group', 'cache'] as const, buckets, registers: [registry] });
    return { registry, counter, histogram };
  };
  const direct = make();
  const celled = make();
  const counts = new CounterCells(celled.counter, ['group', 'cache']);
  const times = new HistogramCells(celled.histogram, ['group', 'cache']);
  const labels = ['', ''];
  const events = [['a', 'hit', 0.001], ['a', 'miss', 0.02], ['b', 'hit', 0.3], ['a', 'hit', 2], ['b', 'miss', 0.004]] as const;
  for (const [group, cache, v] of events) {
    direct.counter.inc({ group, cache });
    direct.histogram.observe({ group, cache }, v);
    labels[0] = group;
    labels[1] = cache;
    counts.inc(labels);
    times.observe(labels, v);
  }
  t.equal(await celled.registry.metrics(), await direct.registry.metrics());
});
