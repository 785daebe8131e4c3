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
//
// A hit does not build the fingerprint string: building it, then flattening, hashing and
// comparing it inside Map.get cost ~1.4 µs per hit (measured alone), against ~0.4 µs for a hash
// of the fields and a field-by-field check. The string (an injective, length-prefixed encoding of
// the fields) is still what the full path hands to remember(), which decodes it back into the
// fields a lookup compares: a remembered key is found only for exactly the bytes that printed
// it, as when the string itself was the map key. Two prints with one hash: the later replaces the
// earlier (which then takes the full path again); the check means a hash can never pick a key for
// other bytes.
import type { IncomingHttpHeaders } from 'node:http';
import { randomInt } from 'node:crypto';
import type { CallPlan } from './types.js';

/** Bodies up to this size take part (view calls are far smaller); larger ones always parse. */
const MAX_BODY = 4096;

/** Fingerprints remembered at most (each holds its request's fields, body bytes and a key). */
const MAX_REMEMBERED = 20_000;

export interface RememberedKey {
  readonly key: string;
  readonly callName: string;
}

/** The fields a key from request bytes depends on (a HEAD reads as the GET it is). */
interface Print {
  routeIndex: number;
  read: string;
  path: string;
  query: string;
  accept: string;
  type: string;
  encoding: string;
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);
const scratch: Print = { routeIndex: 0, read: '', path: '', query: '', accept: '', type: '', encoding: '', body: EMPTY };

export class HitShortcut {
  private readonly keys = new RememberedKeys(MAX_REMEMBERED);
  /** Per process: which prints share a hash cannot be chosen from outside. */
  private readonly seed = randomInt(0x7fffffff);

  /** The request's exact bytes as text (for remember()), or undefined when it cannot take the shortcut. */
  fingerprint(routeIndex: number, method: string, path: string, query: string, headers: IncomingHttpHeaders, body: Buffer): string | undefined {
    if (body.length > MAX_BODY) return undefined;
    const accept = headers['accept'] ?? '';
    const type = headers['content-type'] ?? '';
    const encoding = headers['content-encoding'] ?? '';
    // Each field is length-prefixed: no choice of values can make two requests print alike.
    // A HEAD is the GET's read (the dialects that key from request bytes plan it so): one
    // fingerprint for both, so a HEAD after a GET, or a GET after a HEAD, takes the shortcut.
    const read = method === 'HEAD' ? 'GET' : method;
    return `${routeIndex}|${read.length}:${read}|${path.length}:${path}|${query.length}:${query}|${accept.length}:${accept}|${type.length}:${type}|${encoding.length}:${encoding}|${body.length}:${body.toString('latin1')}`;
  }

  /** The key remembered for exactly these request bytes, if any. */
  lookup(routeIndex: number, method: string, path: string, query: string, headers: IncomingHttpHeaders, body: Buffer): RememberedKey | undefined {
    if (body.length > MAX_BODY) return undefined;
    // The request's print, in the module's one scratch Print (no object per hit): filled, hashed
    // and compared here, and never kept (remember() keeps a decoded copy of its own).
    const print = scratch;
    print.routeIndex = routeIndex;
    print.read = method === 'HEAD' ? 'GET' : method;
    print.path = path;
    print.query = query;
    print.accept = headers['accept'] ?? '';
    print.type = headers['content-type'] ?? '';
    print.encoding = headers['content-encoding'] ?? '';
    print.body = body;
    const r = this.keys.get(hashOf(print, this.seed));
    const found = r !== undefined && samePrint(r.print, print) ? r : undefined;
    print.body = EMPTY; // the request's bytes are not held past the lookup
    return found;
  }

  /** Remembers the key of a single REST call whose plan depends on the request bytes alone. */
  remember(fingerprint: string, plan: CallPlan): void {
    const immutable = plan.call.cls === 'immutable' && plan.ttlClass === 'immutable' && plan.forwardPin === undefined;
    if (!immutable || !plan.store || plan.key === undefined || plan.call.rest === undefined) return;
    const print = decodePrint(fingerprint);
    this.keys.set(hashOf(print, this.seed), new Remembered(print, plan.key, plan.call.name));
  }
}

/** The fields back from a fingerprint (its fields are length-prefixed, so this is exact). */
export function decodePrint(fingerprint: string): Print {
  let at = fingerprint.indexOf('|');
  const routeIndex = Number(fingerprint.slice(0, at));
  const field = (): string => {
    const colon = fingerprint.indexOf(':', at + 1);
    const length = Number(fingerprint.slice(at + 1, colon));
    const value = fingerprint.slice(colon + 1, colon + 1 + length);
    at = colon + 1 + length;
    return value;
  };
  const [read, path, query, accept, type, encoding, body] = [field(), field(), field(), field(), field(), field(), field()];
  // A copy of the bytes: the request's own body may be a view of a larger socket buffer.
  return { routeIndex, read, path, query, accept, type, encoding, body: Buffer.from(body, 'latin1') };
}

/**
 * FNV-1a style over every field (lengths included), from a per-process seed; the body four bytes
 * per step (one multiply per word instead of per byte: the body is most of what is hashed). Only
 * which prints share a bucket depends on it: a lookup still compares the fields themselves.
 */
function hashOf(p: Print, seed: number): number {
  let h = Math.imul(0x811c9dc5 ^ seed, 0x01000193) ^ p.routeIndex;
  h = hashText(hashText(hashText(hashText(hashText(hashText(h, p.read), p.path), p.query), p.accept), p.type), p.encoding);
  const b = p.body;
  const words = b.length & ~3;
  let i = 0;
  for (; i < words; i += 4) {
    const word = (b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24);
    h = Math.imul(h ^ word, 0x01000193);
  }
  for (; i < b.length; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return Math.imul(h ^ b.length, 0x01000193) >>> 0;
}

function hashText(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ s.length, 0x01000193);
}

function samePrint(a: Print, b: Print): boolean {
  return a.routeIndex === b.routeIndex && a.read === b.read && a.path === b.path && a.query === b.query
    && a.accept === b.accept && a.type === b.type && a.encoding === b.encoding && a.body.equals(b.body);
}


class Remembered implements RememberedKey {
  /** Looked up since it last came to the front of the eviction order. */
  used = false;

  constructor(
    readonly print: Print,
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
export class RememberedKeys<K = number, V extends { used: boolean } = Remembered> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  get(id: K): V | undefined {
    const r = this.map.get(id);
    if (r !== undefined) r.used = true;
    return r;
  }

  set(id: K, r: V): void {
    if (this.map.delete(id)) {
      this.map.set(id, r);
      return;
    }
    if (this.map.size >= this.max) this.evictOne();
    this.map.set(id, r);
  }

  private evictOne(): void {
    for (const [id, r] of this.map) {
      this.map.delete(id);
      if (!r.used) return;
      r.used = false;
      this.map.set(id, r);
    }
  }
}
