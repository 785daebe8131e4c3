import t from 'tap';
import { refetchExclusive } from '../../../src/pipeline/calls/refetch-exclusive.js';
import { UpstreamUnavailableError } from '../../../src/errors.js';
import { bodyOf, makeRun, plan, slotsOf } from '../../support/call-steps.js';

t.test('a follower whose leader held an exclusive answer asks for its own, uncoalesced and unstored', async (t) => {
  const run = makeRun();
  const slots = slotsOf(plan({ key: 'k' }), plan({ key: 'other' }));
  slots[0]!.refetch = true;
  await refetchExclusive(slots, run);
  t.equal(run.fetches.length, 1);
  t.same(run.fetches[0]?.map((p) => p.key), ['k']);
  t.equal(slots[0]?.result?.cache, 'bypass');
  t.equal(bodyOf(slots[0]!), '"k"');
  t.same(run.stored, [], 'never stored');
  t.equal(slots[1]?.result, undefined);
});

t.test('its failure is its own error', async (t) => {
  const run = makeRun({ answer: () => ({ ok: false, error: new UpstreamUnavailableError('gone') }) });
  const slots = slotsOf(plan({ key: 'k' }));
  slots[0]!.refetch = true;
  await refetchExclusive(slots, run);
  t.match(slots[0]?.result, { cache: 'error', error: { code: 'upstream_unavailable' } });
});
