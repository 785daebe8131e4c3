import t from 'tap';
import { InvalidParamsError } from '../../../src/errors.js';
import { rejectInvalid } from '../../../src/pipeline/calls/reject-invalid.js';
import { makeRun, plan, slotsOf } from '../../support/call-steps.js';

t.test('a call the dialect refused is settled with its error; the others stay open', async (t) => {
  const bad = new InvalidParamsError('bad element');
  const slots = slotsOf(plan({ key: 'a' }, { reject: bad }), plan({ key: 'b' }));
  const run = makeRun();
  await rejectInvalid(slots, run);
  t.same(slots[0]?.result, { cache: 'error', error: bad });
  t.equal(slots[1]?.result, undefined, 'the valid call goes on');
  t.same(run.fetches, [], 'no upstream request');
});
