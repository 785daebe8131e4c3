// The calls of one parsed request as the step table runs them: the run every step sees (serve.ts's
// StepRun) and, made when a call first goes upstream, what its fetcher needs. A hit or a follower
// of another request's flight never makes the second part. One object per request (two on a miss)
// where there were a dependencies record, a run, a fetch closure, a fetch context with a getter
// and a callback of its own, and two closures wrapping the fetcher: each of them was garbage of
// every miss.
import type { CallPlan, Outcome } from '../runtime/types.js';
import { remainingMs, type RequestContext } from '../server/context.js';
import type { ProxyState } from '../server/state.js';
import type { ForwardInfo } from '../upstream/client.js';
import { forwardInfo } from '../upstream/forwarding.js';
import { StepRun } from './calls/serve.js';
import type { FetchMisses } from './calls/types.js';
import { fetchRest, type FetchContext } from './fetch-rest.js';
import { rpcFetcher } from './fetch-rpc.js';

export class RequestRun extends StepRun {
  private upstream: RequestFetch | undefined = undefined;
  private rpcFetch: FetchMisses | undefined = undefined;

  /** `rpc`: the request is JSON-RPC (one upstream batch), else REST (one request per call). */
  constructor(state: ProxyState, private readonly ctx: RequestContext, private readonly rpc: boolean, private readonly strong: boolean) {
    super(state.cache, state.flights, (ctx.route as NonNullable<RequestContext['route']>).group.name, remainingMs(ctx), state.storeAnswer);
  }

  fetch(plans: CallPlan[]): Promise<Outcome[]> {
    // Each plan notes the purge generation its fetch began in (TieredStore.mayStore).
    this.cache.fetchesBegin(plans);
    const fc = (this.upstream ??= new RequestFetch(this.ctx, this.strong));
    if (!this.rpc) return fetchRest(plans, fc);
    // JSON-RPC goes to the node URL's own path: the client's path only chose the route.
    return (this.rpcFetch ??= rpcFetcher(fc, '/'))(plans);
  }
}

/** Everything a fetcher needs; the forwarding headers are worked out when first read. */
class RequestFetch implements FetchContext {
  readonly group: FetchContext['group'];
  /** Each upstream call is cut at it (upstream/deadlines.ts: one shared timer, none per request). */
  readonly deadline: number;
  readonly maxEntryBytes: number;
  readonly unfinalizedTtlMs: number;
  private forward: ForwardInfo | undefined = undefined;

  constructor(private readonly ctx: RequestContext, readonly strong: boolean) {
    const route = ctx.route as NonNullable<RequestContext['route']>;
    this.group = route.group;
    this.deadline = ctx.deadline;
    this.maxEntryBytes = ctx.runtime.config.cache.memory.maxEntryBytes;
    this.unfinalizedTtlMs = route.config.cache.ttlMs.unfinalized;
  }

  get fwd(): ForwardInfo {
    return (this.forward ??= forwardInfo(this.ctx.runtime.admission.forwarded, this.ctx.id, this.ctx.req));
  }

  onNode(name: string): void {
    this.ctx.node = name;
  }
}
