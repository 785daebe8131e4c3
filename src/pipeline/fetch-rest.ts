// Upstream stage for a REST call (Aptos): one request, sent pinned when the plan says so, to a node
// that has the pinned version.
import { baseCacheable, identityEntry } from '../cache/policy.js';
import { asProxyError } from '../errors.js';
import { passableResponseHeaders } from '../response/headers.js';
import type { GroupRuntime } from '../runtime/runtime.js';
import { answered, failed, type Answer, type CallPlan, type Outcome } from '../runtime/types.js';
import type { ForwardInfo } from '../upstream/client.js';
import { callGroup } from '../upstream/failover.js';
import type { FetchMisses } from './calls/types.js';

export interface FetchContext {
  group: GroupRuntime;
  fwd: ForwardInfo;
  strong: boolean;
  /** performance.now() time the request must be answered by (RequestContext.deadline). */
  deadline: number;
  maxEntryBytes: number;
  /** TTL for answers found to sit in a block that may still reorg. */
  unfinalizedTtlMs: number;
  /** Receives the name of the node that answered (for the request log). */
  onNode(name: string): void;
}

export function restFetcher(fc: FetchContext): FetchMisses {
  return (plans) => fetchRest(plans, fc);
}

/** One upstream request per plan, in parallel; one outcome per plan, in order. */
export function fetchRest(plans: CallPlan[], fc: FetchContext): Promise<Outcome[]> {
  // One call (nearly every REST request): no Promise.all, its array and its element callbacks.
  if (plans.length === 1) return fetchOne(plans[0] as CallPlan, fc).then(inArray);
  return Promise.all(plans.map((plan) => fetchOne(plan, fc)));
}

function inArray(outcome: Outcome): Outcome[] {
  return [outcome];
}

async function fetchOne(plan: CallPlan, fc: FetchContext): Promise<Outcome> {
  // Built only now: a hit never needed it. A latest read goes pinned to the head it is keyed by.
  const rest = plan.call.rest;
  const payload = plan.forwardPin !== undefined && rest?.pinnedPayload ? rest.pinnedPayload(plan.forwardPin) : rest?.payload;
  if (!payload) throw new Error('REST call without a payload');
  try {
    const res = await callGroup(fc.group.set, { payload, write: plan.write, strong: fc.strong || plan.strong === true, pin: plan.pin, minHead: plan.minHead, timeoutClass: plan.call.timeoutClass }, fc.fwd, fc.deadline);
    fc.onNode(res.node.name);
    const cacheable =
      baseCacheable(res.status, res.headers, res.body.length, fc.maxEntryBytes) &&
      fc.group.dialect.isCacheable(plan.call, { status: res.status, headers: res.headers, body: res.body });
    const headers = cacheable ? fc.group.dialect.storableHeaders(res.headers) : passableResponseHeaders(res.headers);
    const answer: Answer = { entry: identityEntry(res.status, headers, res.body, Date.now()), cacheable, node: res.node.name };
    // A cookie set for the leader is that client's: a follower makes its own call (never shares it).
    if (!cacheable && res.headers['set-cookie'] !== undefined) answer.exclusive = true;
    return answered(answer);
  } catch (err) {
    return failed(asProxyError(err));
  }
}
