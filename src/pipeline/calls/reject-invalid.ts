// Step 1. A call the dialect refused while parsing (an invalid element of a JSON-RPC batch) is
// answered with its error here, without a cache lookup or an upstream request; the other calls of
// the batch go on.
import type { CallStep } from './types.js';
import { settle } from './types.js';

export const rejectInvalid: CallStep = (open) => {
  for (const slot of open) {
    const reject = slot.plan.call.reject;
    if (reject) settle(slot, { cache: 'error', error: reject });
  }
};
