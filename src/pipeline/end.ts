// The end stage: the only place a request becomes a metric sample and a log line.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { inflightCell, requestDurationCells, requestsCells } from '../metrics/metrics.js';
import type { RequestContext } from '../server/context.js';

const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * The label values of a request's two series, one array each, refilled per request: the cells
 * read the values and copy what they keep (metrics/cells.ts), so two arrays per request were
 * garbage the moment they were read.
 */
const requestLabels = ['', '', '', ''];
const durationLabels = ['', '', ''];

export function endRequest(ctx: RequestContext, log: Logger, requestLevel: LogLevel): void {
  inflightCell.value--;
  const seconds = (performance.now() - ctx.startedAt) / 1000;
  const route = ctx.route?.label ?? 'none';
  const dialect = ctx.route?.group.config.dialect ?? 'none';
  const status = ctx.status ?? ctx.res.statusCode;
  requestLabels[0] = durationLabels[0] = route;
  requestLabels[1] = durationLabels[1] = dialect;
  requestLabels[2] = durationLabels[2] = ctx.cacheResult;
  requestLabels[3] = STATUS_CLASS[Math.floor(status / 100)] ?? `${Math.floor(status / 100)}xx`;
  requestsCells.inc(requestLabels);
  requestDurationCells.observe(durationLabels, seconds);
  // Nothing is built for a line nobody will see (requests at 'silent' or below the logger's level).
  if (!ctx.error && (requestLevel === 'silent' || !log.isLevelEnabled(requestLevel))) return;
  const line = {
    reqId: ctx.id,
    method: ctx.method,
    path: ctx.path,
    route,
    status,
    cache: ctx.xCache ?? ctx.cacheResult.toUpperCase(),
    node: ctx.node,
    calls: ctx.calls,
    ms: Math.round(seconds * 10_000) / 10,
  };
  if (ctx.error) {
    const level = ctx.error.source === 'client' ? requestLevel : ctx.error.source === 'upstream' ? 'warn' : 'error';
    const err = { code: ctx.error.code, message: ctx.error.message, cause: causeText(ctx.error.cause) };
    if (level !== 'silent') log[level]({ ...line, error: err }, 'request failed');
    return;
  }
  if (requestLevel !== 'silent') log[requestLevel](line, 'request');
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
