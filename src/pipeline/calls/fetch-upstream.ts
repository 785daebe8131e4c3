// Step 6. Everything still open that is not waiting for another call's flight goes upstream, all
// in one fetch (for JSON-RPC: one upstream batch for the reads, one for the writes). The fetcher
// picks nodes, retries reads and judges answers; this step only records what came back on each
// slot for staleIfError and storeAndSettle. A fetcher that throws fails every call it was given.
import type { Outcome } from '../../runtime/types.js';
import { fetchOutcomes, type CallSlot, type CallStep } from './types.js';

export const fetchUpstream: CallStep = (open, run) => {
  // Usually no call follows another's flight: then the open list is the list to fetch (no copy).
  const own = open.some(follows) ? open.filter(leadsOrAlone) : open;
  if (own.length === 0) return;
  return fetchOutcomes(run, own, record);
};

function follows(slot: CallSlot): boolean {
  return slot.flight !== undefined;
}

function leadsOrAlone(slot: CallSlot): boolean {
  return slot.flight === undefined;
}

function record(slot: CallSlot, outcome: Outcome): void {
  slot.fetched = outcome;
}
