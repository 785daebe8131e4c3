// Step 2. L1, synchronously. Only a call whose plan may be stored is looked up: a coalesce-only
// call (Aptos wait_by_hash) or one without a key (writes, uncached reads) must never be answered
// from the cache, since nothing that was stored can be the answer it asks for.
import type { CallStep } from './types.js';
import { settle } from './types.js';

export const memoryHit: CallStep = (open, run) => {
  for (const slot of open) {
    const { key, store } = slot.plan;
    if (key === undefined || !store) continue;
    const entry = run.cache.memory.getSync(key);
    if (entry) settle(slot, { cache: 'hit', answer: { entry } });
  }
};
