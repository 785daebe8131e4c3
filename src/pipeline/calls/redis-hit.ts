// Step 4. L2 (Redis), for the leaders whose plan may be stored, in parallel. A hit is copied into
// L1 by the tiered store and settles the leader's flight too, so its followers get it. Without a
// remote tier the step costs nothing (no await). A slow or dead Redis is a miss (the store never
// throws), never an error for the client.
import type { TieredStore } from '../../cache/tiered-store.js';
import type { CallSlot, CallStep } from './types.js';
import { settle } from './types.js';

export const redisHit: CallStep = (open, run) => {
  if (!run.cache.remote) return;
  const leaders = open.filter((s) => s.leader && s.plan.store && s.plan.key !== undefined);
  if (leaders.length === 0) return;
  return Promise.all(leaders.map((slot) => lookup(slot, run.cache)));
};

async function lookup(slot: CallSlot, cache: TieredStore): Promise<void> {
  const hit = await cache.lookup(slot.plan.key as string);
  if (!hit) return;
  const answer = { entry: hit.entry };
  settle(slot, { cache: 'hit', answer });
  slot.leader?.settle(answer);
}
