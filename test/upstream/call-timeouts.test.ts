import t from 'tap';
import { configSchema } from '../../src/config/schema.js';
import { slowestClass, timeoutsFor } from '../../src/upstream/call-timeouts.js';

const group = (timeouts: unknown) =>
  configSchema.parse({ upstreams: { g: { dialect: 'evm-jsonrpc', primary: 'http://127.0.0.1:1', timeouts } }, routes: [{ match: {}, upstream: 'g' }] }).upstreams['g']!.timeouts;

t.test('defaults: fast 3 s, normal 10 s, slow 30 s for headers', async (t) => {
  const cfg = group({});
  t.same(timeoutsFor(cfg, 'fast'), { headersMs: 3_000, bodyMs: 10_000 });
  t.same(timeoutsFor(cfg, undefined), { headersMs: 10_000, bodyMs: 30_000 });
  t.same(timeoutsFor(cfg, 'normal'), { headersMs: 10_000, bodyMs: 30_000 });
  t.same(timeoutsFor(cfg, 'slow'), { headersMs: 30_000, bodyMs: 120_000 });
});

t.test('derived from the group numbers unless set per class', async (t) => {
  const cfg = group({ headersMs: 400, bodyMs: 500, byClass: { slow: { headersMs: 60_000 } } });
  t.same(timeoutsFor(cfg, 'fast'), { headersMs: 400, bodyMs: 500 }, 'never above the normal ones');
  t.same(timeoutsFor(cfg, 'slow'), { headersMs: 60_000, bodyMs: 2_000 });
});

t.test('a batch takes its slowest call', async (t) => {
  t.equal(slowestClass(['fast', 'fast']), 'fast');
  t.equal(slowestClass(['fast', undefined]), 'normal');
  t.equal(slowestClass(['fast', 'slow', undefined]), 'slow');
  t.equal(slowestClass([]), 'normal');
});

t.test('unknown keys are refused', async (t) => {
  t.throws(() => group({ byClass: { medium: {} } }));
});
