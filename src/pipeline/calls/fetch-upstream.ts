// Step 6. Everything still open that is not waiting for another call's flight goes upstream, all
// in one fetch (for JSON-RPC: one upstream batch for the reads, one for the writes). The fetcher
// picks nodes, retries reads and judges answers; this step only records what came back on each
// slot for staleIfError and storeAndSettle. A fetcher that throws fails every call it was given.
import { fetchOutcomes, type CallStep } from './types.js';

export const fetchUpstream: CallStep = async (open, run) => {
  const own = open.filter((s) => s.flight === undefined);
  if (own.length === 0) return;
  const fetched = await fetchOutcomes(run, own);
  own.forEach((slot, n) => {
    slot.fetched = fetched[n];
  });
};
