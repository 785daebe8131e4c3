import t from 'tap';
import { UpstreamTimeoutError } from '../../../src/errors.js';
import { fetchUpstream } from '../../../src/pipeline/calls/fetch-upstream.js';
import { makeRun, plan, slotsOf } from '../../support/call-steps.js';

t.test('leaders and keyless calls go upstream together; followers do not; nothing is settled yet', async (t) => {
  const run = makeRun();
  const slots = slotsOf(plan({ key: 'a' }), plan({ key: 'b' }), plan({}, { cls: 'write' }));
  slots[1]!.flight = new Promise(() => undefined);
  await fetchUpstream(slots, run);
  t.same(run.fetches.map((f) => f.map((p) => p.key)), [['a', undefined]], 'one fetch for the own calls');
  t.equal(slots[0]?.fetched?.ok, true);
  t.equal(slots[1]?.fetched, undefined, 'the follower waits for its leader');
  t.ok(slots.every((s) => s.result === undefined), 'storeAndSettle / staleIfError settle');
});

t.test('a fetcher that throws fails every call it was given, as a ProxyError', async (t) => {
  const run = makeRun({ fetchThrows: new Error('socket hang up') });
  const slots = slotsOf(plan({ key: 'a' }), plan({ key: 'b' }));
  await fetchUpstream(slots, run);
  for (const s of slots) {
    t.equal(s.fetched?.ok, false);
    if (s.fetched && !s.fetched.ok) t.equal(s.fetched.error.code, 'internal_error', 'normalised by asProxyError');
  }
  const timeout = makeRun({ fetchThrows: new UpstreamTimeoutError('slow') });
  const one = slotsOf(plan({ key: 'a' }));
  await fetchUpstream(one, timeout);
  t.match(one[0]?.fetched, { ok: false, error: { code: 'upstream_timeout' } }, 'a ProxyError is kept as is');
});
