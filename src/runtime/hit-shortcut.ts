// The hit path without parsing. For a REST read pinned to a version (immutable), the cache key is a
// pure function of the request's bytes: route, method, path, query, Accept, Content-Type, body. So
// once such a request has been planned, the proxy remembers "these bytes → this key", and the next
// identical request is answered from L1 before the dialect parses it or a plan is built — the
// same entry the full path would have found, with none of the allocation. Only immutable plans are
// remembered: a latest read's key moves with the head snapshot. The map is per runtime and keyed
// by route index, which names a route only within one config: a reload can point route 0 at
// another group. So a request must remember into, and look up in, the shortcut of the runtime it
// leased — never the state's current one, or a request spanning a reload plants the old group's
// key under the new runtime's route 0. Bounded; a remembered key whose entry is gone is a miss
// that takes the full path.
import type { IncomingHttpHeaders } from 'node:http';
import type { CallPlan } from './types.js';

/** Bodies up to this size take part (view calls are far smaller); larger ones always parse. */
const MAX_BODY = 4096;

/** Fingerprints remembered at most (each holds its request's bytes as text and a key). */
const MAX_REMEMBERED = 20_000;

export interface RememberedKey {
  readonly key: string;
  readonly callName: string;
}

export class HitShortcut {
  private readonly keys = new RememberedKeys(MAX_REMEMBERED);

  /** The request's exact bytes as a map key, or undefined when it cannot take the shortcut. */
  fingerprint(routeIndex: number, method: string, path: string, query: string, headers: IncomingHttpHeaders, body: Buffer): string | undefined {
    if (body.length > MAX_BODY) return undefined;
    const accept = headers['accept'] ?? '';
    const type = headers['content-type'] ?? '';
    const encoding = headers['content-encoding'] ?? '';
    // Each field is length-prefixed: no choice of values can make two requests print alike.
    // A HEAD is the GET's read (the dialects that key from request bytes plan it so): one
    // fingerprint for both, so a HEAD after a GET, or a GET after a HEAD, takes the shortcut.
    // One template, no list of fields: this runs on every hit, and the string is hashed whole
    // by the lookup anyway.
    const read = method === 'HEAD' ? 'GET' : method;
    return `${routeIndex}|${read.length}:${read}|${path.length}:${path}|${query.length}:${query}|${accept.length}:${accept}|${type.length}:${type}|${encoding.length}:${encoding}|${body.length}:${body.toString('latin1')}`;
  }

  lookup(fingerprint: string): RememberedKey | undefined {
    return this.keys.get(fingerprint);
  }

  /** Remembers the key of a single REST call whose plan depends on the request bytes alone. */
  remember(fingerprint: string, plan: CallPlan): void {
    const immutable = plan.call.cls === 'immutable' && plan.ttlClass === 'immutable' && plan.forwardPin === undefined;
    if (!immutable || !plan.store || plan.key === undefined || plan.call.rest === undefined) return;
    this.keys.set(fingerprint, plan.key, plan.call.name);
  }
}

class Remembered implements RememberedKey {
  /** Looked up since it last came to the front of the eviction order. */
  used = false;

  constructor(
    readonly key: string,
    readonly callName: string,
  ) {}
}

/**
 * A bounded map with second-chance eviction (CLOCK): when full, the oldest fingerprint goes unless
 * it was looked up since it was last at the front, in which case it moves to the back with its
 * flag cleared. Hot fingerprints stay, as in an LRU, but a lookup — which every shortcut hit makes —
 * only sets a flag: lru-cache's get cost an options object, a status check and a list move per hit.
 * Eviction is amortised O(1): each step past a used entry clears a flag a lookup had to set.
 */
export class RememberedKeys {
  private readonly map = new Map<string, Remembered>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  get(fingerprint: string): RememberedKey | undefined {
    const r = this.map.get(fingerprint);
    if (r !== undefined) r.used = true;
    return r;
  }

  set(fingerprint: string, key: string, callName: string): void {
    const r = new Remembered(key, callName);
    if (this.map.delete(fingerprint)) {
      this.map.set(fingerprint, r);
      return;
    }
    if (this.map.size >= this.max) this.evictOne();
    this.map.set(fingerprint, r);
  }

  private evictOne(): void {
    for (const [fingerprint, r] of this.map) {
      this.map.delete(fingerprint);
      if (!r.used) return;
      r.used = false;
      this.map.set(fingerprint, r);
    }
  }
}
