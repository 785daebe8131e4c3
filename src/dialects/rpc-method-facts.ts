// What a JSON-RPC dialect says about a method name alone, worked out once per known method: its
// metric label, its timeout class, and the `"method"` member of its forwarded text. A batch of 20
// calls asked the label set, the timeout table and JSON.stringify once per call for the same two
// or three names.
//
// Bounded: only the dialect's known methods are kept (a fixed set); any other method (the client
// chooses those) is worked out per call, as before.
import type { TimeoutClass } from './types.js';

export interface MethodFacts {
  /** The method name (for a known method, the dialect's own string: one string for every call). */
  method: string;
  /** The metric label: the method when known, else OTHER_LABEL. */
  label: string;
  /** The timeout class, unset for 'normal'. */
  timeoutClass: TimeoutClass | undefined;
  /** `,"method":<method as JSON>`: the member as forwarded. */
  methodMember: string;
  /** `<method>\n`: how the call's key material starts (rpc-params-text.ts). */
  keyHead: string;
}

/** The metric label of every method a dialect does not know (so the label set stays bounded). */
export const OTHER_LABEL = 'other';

/** What methodFacts needs of a dialect: its known methods and timeout classes (a pure function of the method). */
export interface MethodTable {
  knownMethods: ReadonlySet<string>;
  timeoutClass?(method: string): TimeoutClass | undefined;
}

/**
 * Per known-method set (a dialect's constant; a dialect may make its spec object per request, so
 * the set, not the spec, names it). Two dialects speak JSON-RPC: the last table is looked up first.
 */
const tables = new WeakMap<ReadonlySet<string>, Map<string, MethodFacts>>();
let lastKnown: ReadonlySet<string> | undefined;
let lastTable = new Map<string, MethodFacts>();

export function methodFacts(spec: MethodTable, method: string): MethodFacts {
  if (spec.knownMethods !== lastKnown) {
    lastTable = tables.get(spec.knownMethods) ?? tableOf(spec);
    lastKnown = spec.knownMethods;
  }
  return lastTable.get(method) ?? factsOf(spec, method, OTHER_LABEL);
}

function tableOf(spec: MethodTable): Map<string, MethodFacts> {
  const table = new Map<string, MethodFacts>();
  for (const method of spec.knownMethods) table.set(method, factsOf(spec, method, method));
  tables.set(spec.knownMethods, table);
  return table;
}

function factsOf(spec: MethodTable, method: string, label: string): MethodFacts {
  const timeoutClass = spec.timeoutClass?.(method);
  return { method, label, timeoutClass: timeoutClass === 'normal' ? undefined : timeoutClass, methodMember: `,"method":${JSON.stringify(method)}`, keyHead: `${method}\n` };
}
