// Step 8. What the node said becomes the call's result and its flight's. An answer is stored (when
// the plan and the answer allow it: see cache/policy.ts) *before* the flight is settled and so
// removed: a request arriving after that finds the entry, never a gap between flight and cache.
// A failure fails the flight with the same error: followers share the leader's fate, with no
// hidden retry storm behind it.
import type { CallStep } from './types.js';
import { settle } from './types.js';

export const storeAndSettle: CallStep = (open, run) => {
  for (const slot of open) {
    const fetched = slot.fetched;
    if (!fetched) continue;
    if (fetched.ok) {
      const shared = run.store(slot.plan, fetched.answer);
      settle(slot, { cache: slot.plan.key === undefined ? 'bypass' : 'miss', answer: shared });
      slot.leader?.settle(shared);
    } else {
      settle(slot, { cache: 'error', error: fetched.error });
      slot.leader?.fail(fetched.error);
    }
  }
};
