// Which JSON-RPC methods a group accepts from clients (issue 14 #10): an operator lists method-name
// prefixes to allow and/or deny (`admin_`, `debug_`, `personal_`, ...). A denied call is answered
// with a JSON-RPC error in its place in the batch (-32601, as a node without that namespace would
// answer); the other calls of the batch are still served. The policy applies to parsed JSON-RPC
// calls only: REST routes have no methods to filter.
import type { Call } from '../dialects/types.js';
import { MethodDeniedError } from '../errors.js';

export interface MethodPolicyConfig {
  /** When non-empty, only methods starting with one of these prefixes are accepted. */
  allow: readonly string[];
  /** Methods starting with one of these are refused (checked after `allow`). */
  deny: readonly string[];
}

export class MethodPolicy {
  constructor(private readonly config: MethodPolicyConfig) {}

  get empty(): boolean {
    return this.config.allow.length === 0 && this.config.deny.length === 0;
  }

  permits(method: string): boolean {
    const { allow, deny } = this.config;
    if (allow.length > 0 && !allow.some((p) => method.startsWith(p))) return false;
    return !deny.some((p) => method.startsWith(p));
  }

  /** Marks, in place, every call the policy refuses (Call.reject): it never goes upstream. */
  apply(calls: readonly Call[]): void {
    if (this.empty) return;
    for (const call of calls) {
      const method = call.rpc?.method;
      if (method === undefined || call.reject) continue;
      if (!this.permits(method)) call.reject = new MethodDeniedError(`the method ${method} is not available through this proxy`);
    }
  }
}

const policies = new WeakMap<MethodPolicyConfig, MethodPolicy>();

/** The policy of one upstream group's config (made once per config object, so per runtime). */
export function methodPolicyFor(config: { methods: MethodPolicyConfig }): MethodPolicy {
  let policy = policies.get(config.methods);
  if (!policy) {
    policy = new MethodPolicy(config.methods);
    policies.set(config.methods, policy);
  }
  return policy;
}
