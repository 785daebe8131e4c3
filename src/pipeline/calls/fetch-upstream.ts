// Step 6. Everything still open that is not waiting for another call's flight goes upstream, all
// in one fetch (for JSON-RPC: one upstream batch for the reads, one for the writes). The fetcher
// picks nodes, retries reads and judges answers; this step only records what came back on each
// slot for staleIfError and storeAndSettle. A fetcher that throws fails every call it was given.
import { asProxyError } from '../../errors.js';
import type { Outcome } from '../../runtime/types.js';
import type { CallStep } from './types.js';

export const fetchUpstream: CallStep = async (open, run) => {
  const own = open.filter((s) => s.flight === undefined);
  if (own.length === 0) return;
  let fetched: Outcome[];
  try {
    fetched = await run.fetch(own.map((s) => s.plan));
  } catch (err) {
    const error = asProxyError(err);
    fetched = own.map(() => ({ ok: false, error }));
  }
  own.forEach((slot, n) => {
    slot.fetched = fetched[n] ?? { ok: false, error: asProxyError(new Error('no answer for call')) };
  });
};
