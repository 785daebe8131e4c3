// Upstream timeouts that fit the call: a view call or a balance lookup should not hold a client
// for the 10 s a log query may need. The dialect tables give each call a class; the group's
// `timeouts` give the numbers. Unset class numbers are derived from the normal ones (here, the one
// place these defaults live), so a group that lowers headersMs lowers every class with it.
import type { UpstreamConfig } from '../config/schema.js';
import type { TimeoutClass } from '../dialects/types.js';

export interface CallTimeouts {
  headersMs: number;
  bodyMs: number;
}

const FAST_HEADERS_CAP_MS = 3_000;
const FAST_BODY_CAP_MS = 10_000;
const SLOW_HEADERS_FACTOR = 3;
const SLOW_BODY_FACTOR = 4;

export function timeoutsFor(config: UpstreamConfig['timeouts'], cls: TimeoutClass | undefined): CallTimeouts {
  const { headersMs, bodyMs } = config;
  switch (cls) {
    case 'fast':
      return {
        headersMs: config.byClass.fast.headersMs ?? Math.min(headersMs, FAST_HEADERS_CAP_MS),
        bodyMs: config.byClass.fast.bodyMs ?? Math.min(bodyMs, FAST_BODY_CAP_MS),
      };
    case 'slow':
      return {
        headersMs: config.byClass.slow.headersMs ?? headersMs * SLOW_HEADERS_FACTOR,
        bodyMs: config.byClass.slow.bodyMs ?? bodyMs * SLOW_BODY_FACTOR,
      };
    default:
      return { headersMs, bodyMs };
  }
}

const RANK: Record<TimeoutClass, number> = { fast: 0, normal: 1, slow: 2 };

/** A request carrying several calls (a JSON-RPC batch) gets the time its slowest call needs. */
export function slowestClass(classes: ReadonlyArray<TimeoutClass | undefined>): TimeoutClass {
  let out: TimeoutClass = 'fast';
  for (const c of classes) {
    const cls = c ?? 'normal';
    if (RANK[cls] > RANK[out]) out = cls;
  }
  return classes.length === 0 ? 'normal' : out;
}
