// The calls counter for one request: each call counted once under (group, call, cache result).
import type { Call } from '../dialects/types.js';
import { callsCells } from '../metrics/metrics.js';
import type { CallResult } from '../runtime/types.js';

/** The calls counter's labels, refilled per series (the cells read them, never keep them). */
const callLabels = ['', '', ''];

/**
 * A request's calls tallied by (call, cache) before they are counted: a batch mixes a few methods,
 * and the cells' lookup (one Map per label, its last series remembered) missed on every call whose
 * method differed from the one before it (eth_call, eth_getBalance, eth_call, ...). Refilled per
 * request; a request with more distinct pairs than it holds counts the rest one by one.
 */
const TALLY_PAIRS = 8;
const tallyNames: string[] = [];
const tallyCaches: string[] = [];
const tallyCounts: number[] = [];

export function countCalls(group: string, calls: Call[], results: CallResult[]): void {
  callLabels[0] = group;
  let pairs = 0;
  for (let i = 0; i < calls.length; i++) {
    const name = (calls[i] as Call).name;
    const cache = results[i]?.cache ?? 'error';
    let p = 0;
    while (p < pairs && (tallyNames[p] !== name || tallyCaches[p] !== cache)) p++;
    if (p < pairs) tallyCounts[p] = (tallyCounts[p] as number) + 1;
    else if (pairs < TALLY_PAIRS) {
      tallyNames[pairs] = name;
      tallyCaches[pairs] = cache;
      tallyCounts[pairs++] = 1;
    } else countSeries(name, cache, 1);
  }
  for (let p = 0; p < pairs; p++) countSeries(tallyNames[p] as string, tallyCaches[p] as string, tallyCounts[p] as number);
}

function countSeries(name: string, cache: string, n: number): void {
  callLabels[1] = name;
  callLabels[2] = cache;
  callsCells.inc(callLabels, n);
}
