// The Aptos REST endpoints the proxy understands, as a table: which are cached reads and how
// (pinnable by ?ledger_version, head reads, immutable lookups), which other endpoints are writes,
// and the small readers every part of the dialect shares (the /v1 path, u64 versions, Accept).
//
// Every request (and every answer the judge reads) is matched here, so matching works on the path
// string in place: no regex, no split, no per-request allocation. A route's path is a list of
// segments, each a literal or `*` (one or more characters other than `/`: the `[^/]+` the table
// was first written with); a path matches when it has exactly those segments.
import type { TimeoutClass } from './types.js';

type RouteKind = 'pinnable' | 'head' | 'immutable' | 'tx_by_hash' | 'wait';

/** What a JSON 200 of the endpoint is at its top level (the judge holds answers to it). */
export type AnswerShape = 'object' | 'array' | 'number';

export interface Route {
  name: string;
  method: 'GET' | 'POST';
  /** The path from `/v1` on, as segments after `v1`: a literal, or '*' for any one segment. */
  path: readonly string[];
  kind: RouteKind;
  /** Query params that change the answer, besides ledger_version for pinnable routes. */
  query: readonly string[];
  /** The last path segment is a ledger version: the call is pinned to it. */
  pinFromPath?: boolean;
  /** Endpoints whose JSON answer is an array; `/balance` answers a bare number; the rest an object. */
  answer: AnswerShape;
  /** Upstream timeout class (timeouts.byClass); unset: normal. */
  timeoutClass?: TimeoutClass;
}

const PAGE = ['limit', 'start'] as const;
const ARRAY_ROUTES = new Set(['view', 'account_resources', 'account_modules', 'account_transactions', 'events']);
const NUMBER_ROUTES = new Set(['account_balance']);

/** Upstream timeout classes (timeouts.byClass) by route name; the rest are normal. */
export const TIMEOUT_CLASS = new Map<string, TimeoutClass>([
  ...['ledger_info', 'view', 'table_item', 'account', 'account_resource', 'account_balance', 'tx_by_hash', 'tx_by_version'].map((r) => [r, 'fast'] as const),
  ...['block_by_height', 'block_by_version'].map((r) => [r, 'slow'] as const),
]);

type RouteSpec = Omit<Route, 'path' | 'answer' | 'timeoutClass'> & { path: string };

function route(spec: RouteSpec): Route {
  const r: Route = {
    ...spec,
    path: spec.path === '' ? [] : spec.path.split('/'),
    answer: NUMBER_ROUTES.has(spec.name) ? 'number' : ARRAY_ROUTES.has(spec.name) ? 'array' : 'object',
  };
  const timeoutClass = TIMEOUT_CLASS.get(spec.name);
  if (timeoutClass !== undefined) r.timeoutClass = timeoutClass;
  return r;
}

/** In match order (the first match wins; no two of these match one path). Paths are after `/v1/`. */
const ROUTES: readonly Route[] = [
  { name: 'ledger_info', method: 'GET', path: '', kind: 'head', query: [] },
  { name: 'account', method: 'GET', path: 'accounts/*', kind: 'pinnable', query: [] },
  { name: 'account_resource', method: 'GET', path: 'accounts/*/resource/*', kind: 'pinnable', query: [] },
  { name: 'account_resources', method: 'GET', path: 'accounts/*/resources', kind: 'pinnable', query: PAGE },
  { name: 'account_module', method: 'GET', path: 'accounts/*/module/*', kind: 'pinnable', query: [] },
  { name: 'account_modules', method: 'GET', path: 'accounts/*/modules', kind: 'pinnable', query: PAGE },
  { name: 'account_balance', method: 'GET', path: 'accounts/*/balance/*', kind: 'pinnable', query: [] },
  { name: 'account_transactions', method: 'GET', path: 'accounts/*/transactions', kind: 'head', query: PAGE },
  { name: 'events', method: 'GET', path: 'accounts/*/events/*', kind: 'head', query: PAGE },
  { name: 'events', method: 'GET', path: 'accounts/*/events/*/*', kind: 'head', query: PAGE },
  { name: 'tx_by_hash', method: 'GET', path: 'transactions/by_hash/*', kind: 'tx_by_hash', query: [] },
  { name: 'tx_wait_by_hash', method: 'GET', path: 'transactions/wait_by_hash/*', kind: 'wait', query: [] },
  { name: 'tx_by_version', method: 'GET', path: 'transactions/by_version/*', kind: 'immutable', query: [], pinFromPath: true },
  { name: 'block_by_height', method: 'GET', path: 'blocks/by_height/*', kind: 'immutable', query: ['with_transactions'] },
  { name: 'block_by_version', method: 'GET', path: 'blocks/by_version/*', kind: 'immutable', query: ['with_transactions'], pinFromPath: true },
  { name: 'view', method: 'POST', path: 'view', kind: 'pinnable', query: [] },
  { name: 'table_item', method: 'POST', path: 'tables/*/item', kind: 'pinnable', query: [] },
].map((spec) => route(spec as RouteSpec));

/** The routes by their number of segments after `/v1` (a path with more segments matches none). */
const ROUTES_BY_DEPTH: ReadonlyArray<readonly Route[]> = Array.from({ length: 1 + Math.max(...ROUTES.map((r) => r.path.length)) }, (_, n) =>
  ROUTES.filter((r) => r.path.length === n),
);
const MAX_DEPTH = ROUTES_BY_DEPTH.length - 1;

/** Other non-GET endpoints (exact paths): named for metrics; `write` says whether they go to the primary only. */
const OTHER_ENDPOINTS = new Map<string, { readonly name: string; readonly write: boolean }>([
  ['/v1/transactions', { name: 'tx_submit', write: true }],
  ['/v1/transactions/batch', { name: 'tx_submit_batch', write: true }],
  // Reads that must never be cached (they answer for the mempool / gas market of the moment).
  ['/v1/transactions/simulate', { name: 'tx_simulate', write: false }],
  ['/v1/transactions/encode_submission', { name: 'tx_encode', write: false }],
  ['/v1/estimate_gas_price', { name: 'gas_price', write: false }],
]);
const OTHER_READ = { name: 'other', write: false } as const;
const OTHER_WRITE = { name: 'other', write: true } as const;

const SLASH = 0x2f;
const QUESTION = 0x3f;
const PERCENT = 0x25;
const PLUS = 0x2b;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const ACCEPT_BCS = 'application/x-bcs';

/** The path from the first `/v1` segment on, or undefined when there is none. */
export function fromV1(path: string): string | undefined {
  for (let at = path.indexOf('/v1'); at !== -1; at = path.indexOf('/v1', at + 1)) {
    if (at + 3 === path.length || path.charCodeAt(at + 3) === SLASH) return at === 0 ? path : path.slice(at);
  }
  return undefined;
}

/** Segment boundaries of the path being matched, reused: [start0, end0, start1, end1, ...]. */
const bounds = new Int32Array(2 * (MAX_DEPTH + 1));

/**
 * The last path matched and its route. A miss asks for the same path three times (the plan before
 * the body, the parse after it, the judge of the node's answer): the two repeats cost a string
 * compare instead of a walk of the table. The match is a pure function of (method, rel).
 */
let lastMethod = '';
let lastRel = '';
let lastRoute: Route | undefined;

export function matchRoute(method: string, rel: string | undefined): Route | undefined {
  if (rel === undefined) return undefined;
  if (rel === lastRel && method === lastMethod) return lastRoute;
  const route = walkRoutes(method, rel);
  // Long paths are not kept: comparing one against the next request's would cost what it saves.
  if (rel.length <= 256) {
    lastMethod = method;
    lastRel = rel;
    lastRoute = route;
  }
  return route;
}

function walkRoutes(method: string, rel: string): Route | undefined {
  if (!rel.startsWith('/v1')) return undefined;
  const depth = segmentsAfterV1(rel);
  if (depth < 0) return undefined;
  for (const r of ROUTES_BY_DEPTH[depth] as readonly Route[]) {
    if (r.method === method && segmentsMatch(rel, r.path)) return r;
  }
  return undefined;
}

/**
 * Fills `bounds` with the segments after `/v1` and answers how many there are; -1 when one is
 * empty (`//`, a trailing `/`: `*` needs one character) or there are more than any route has.
 */
function segmentsAfterV1(rel: string): number {
  if (rel.length === 3) return 0;
  if (rel.charCodeAt(3) !== SLASH) return -1;
  let depth = 0;
  let start = 4;
  for (;;) {
    if (depth === MAX_DEPTH) return -1;
    const slash = rel.indexOf('/', start);
    const end = slash === -1 ? rel.length : slash;
    if (end === start) return -1;
    bounds[2 * depth] = start;
    bounds[2 * depth + 1] = end;
    depth++;
    if (slash === -1) return depth;
    start = slash + 1;
  }
}

function segmentsMatch(rel: string, path: readonly string[]): boolean {
  for (let i = 0; i < path.length; i++) {
    const want = path[i] as string;
    if (want === '*') continue;
    const start = bounds[2 * i] as number;
    if ((bounds[2 * i + 1] as number) - start !== want.length || !rel.startsWith(want, start)) return false;
  }
  return true;
}

/** Shared, read-only answers (callers only read them). */
export function otherEndpoint(method: string, rel: string | undefined): { readonly name: string; readonly write: boolean } {
  if (method === 'GET' || method === 'HEAD') return OTHER_READ;
  return (rel === undefined ? undefined : OTHER_ENDPOINTS.get(rel)) ?? OTHER_WRITE;
}

/**
 * A HEAD on a cached GET route is that GET's read (RFC 9110 §9.3.2: the same headers, no body):
 * planned, keyed, coalesced and fetched as the GET — the node is asked the GET, never a HEAD,
 * whose bodiless answer could not fill the entry — and the writer leaves out the body.
 */
export function readMethod(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}

/**
 * A u64 decimal (Aptos versions); undefined when the text is not one. The same few versions are
 * read many times over (the pinned query, every answer's ledger headers, read again by the judge,
 * the head tracker and the observer): they are remembered, so a repeat costs no BigInt.
 */
export function parseU64(text: string): bigint | undefined {
  return u64s.get(text, readU64);
}

function readU64(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 20) return undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const n = BigInt(text);
  return n <= U64_MAX ? n : undefined;
}

/**
 * The query's name/value pairs, exactly as `[...new URLSearchParams(raw)]`. A query of printable
 * ASCII without `%` and `+` decodes to itself, so there the form-urlencoded parser is a split on
 * `&` and the first `=` (empty pieces skipped, one leading `?` dropped); anything else goes to
 * URLSearchParams itself.
 */
export function queryPairs(raw: string): Array<[string, string]> {
  if (!decodesToItself(raw)) return [...new URLSearchParams(raw)];
  const out: Array<[string, string]> = [];
  for (let start = raw.charCodeAt(0) === QUESTION ? 1 : 0; start < raw.length; ) {
    const amp = raw.indexOf('&', start);
    const end = amp === -1 ? raw.length : amp;
    if (end > start) {
      const eq = raw.indexOf('=', start);
      out.push(eq === -1 || eq > end ? [raw.slice(start, end), ''] : [raw.slice(start, eq), raw.slice(eq + 1, end)]);
    }
    start = end + 1;
  }
  return out;
}

function decodesToItself(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === PERCENT || c === PLUS) return false;
  }
  return true;
}

/**
 * The representation the Aptos node will choose, negotiated as it does (poem's Accept, then
 * aptos-api parse_accept): media ranges in order of q-value (stable: header order breaks ties),
 * the first that is JSON or BCS wins, JSON when neither is listed. `q=0` means "not acceptable"
 * (RFC 9110 §12.4.2). The key holds this choice; the node gets the client's own header.
 */
export function negotiateAccept(accept: string | undefined): 'json' | 'bcs' {
  return accept === undefined ? 'json' : accepts.get(accept, negotiate);
}

function negotiate(accept: string): 'json' | 'bcs' {
  const ranges = accept.split(',').map((part, order) => {
    const [type = '', ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    return { type, weight: Number.isFinite(weight) ? weight : 0, order };
  });
  const ordered = ranges.filter((r) => r.weight > 0).sort((a, b) => b.weight - a.weight || a.order - b.order);
  const first = ordered.find((r) => r.type === 'application/json' || r.type === ACCEPT_BCS);
  return first?.type === ACCEPT_BCS ? 'bcs' : 'json';
}

/**
 * A pure function of a short header text, remembered: clients and nodes send the same few Accept,
 * Content-Type and version texts over and over. Bounded (it starts over when full; long texts are
 * not kept), so odd or hostile values cost the plain computation and no memory.
 */
export class TextMemo<T> {
  private readonly known = new Map<string, T>();
  constructor(
    private readonly maxEntries = 512,
    private readonly maxLength = 128,
  ) {}

  get(text: string, compute: (text: string) => T): T {
    const hit = this.known.get(text);
    if (hit !== undefined || this.known.has(text)) return hit as T;
    const value = compute(text);
    if (text.length <= this.maxLength) {
      if (this.known.size >= this.maxEntries) this.known.clear();
      this.known.set(text, value);
    }
    return value;
  }
}

const u64s = new TextMemo<bigint | undefined>(1024, 20);
const accepts = new TextMemo<'json' | 'bcs'>();
