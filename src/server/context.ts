// The per-request context every pipeline stage reads and fills in. Only the end stage turns it into
// a metric sample and a log line, so a request is counted once whatever path it took.
import type { IncomingMessage, ServerResponse } from 'node:http';
// The global `performance` is an accessor (a getter call on every read); the module binding is not.
import { performance } from 'node:perf_hooks';
import type { ProxyError } from '../errors.js';
import type { RouteRuntime, Runtime } from '../runtime/runtime.js';

export type CacheLabel = 'HIT' | 'MISS' | 'COALESCED' | 'BYPASS' | 'STALE' | 'ERROR';

/**
 * A class, with every field set from the start: each request's context has one shape from its
 * creation to its end, so the stages that read it see one hidden class (fields added as a request
 * went along gave a shape per path taken).
 */
export class RequestContext {
  route: RouteRuntime | undefined = undefined;
  /** Value of the X-Cache header sent (HIT, MISS, PARTIAL 3/5, ...). */
  xCache: string | undefined = undefined;
  /** Aggregate cache result for metrics. */
  cacheResult: 'hit' | 'miss' | 'coalesced' | 'bypass' | 'stale' | 'partial' | 'error' = 'bypass';
  node: string | undefined = undefined;
  status: number | undefined = undefined;
  error: ProxyError | undefined = undefined;
  calls: number | undefined = undefined;
  /** Absolute time (performance.now() based) by which the client must have an answer. */
  readonly deadline: number;

  constructor(
    readonly id: string,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly method: string,
    readonly path: string,
    readonly query: string,
    /** The runtime this request leased at its start: the only one it reads, to its end. */
    readonly runtime: Runtime,
    readonly startedAt: number,
  ) {
    this.deadline = startedAt + runtime.config.server.requestTimeoutMs;
  }
}

export function remainingMs(ctx: RequestContext): number {
  return Math.max(0, Math.ceil(ctx.deadline - performance.now()));
}

export function splitUrl(url: string | undefined): { path: string; query: string } {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0 ? { path: raw, query: '' } : { path: raw.slice(0, q), query: raw.slice(q + 1) };
}
