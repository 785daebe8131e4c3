// End of calls: the one place, after the call steps and before the reply is written, where a
// request's answers are looked at for what they say about the chain (a receipt's block, an
// eth_blockNumber result, a committed transaction's version). The read-your-writes floor learns
// its facts here, through the dialect (Dialect.observe(call, answer)), into the runtime the
// request leased. Until that lands this stage observes nothing; it exists so that facts are
// learnt in one place, from every path that produced answers (cache, flight, node, stale).
import type { RouteRuntime } from '../runtime/runtime.js';
import type { CallPlan, CallResult } from '../runtime/types.js';

export function observeAnswers(route: RouteRuntime, plans: readonly CallPlan[], results: readonly CallResult[]): void {
  void route;
  void plans;
  void results;
}
