// The Aptos REST endpoints the proxy understands, as a table: which are cached reads and how
// (pinnable by ?ledger_version, head reads, immutable lookups), which other endpoints are writes,
// and the small readers every part of the dialect shares (the /v1 path, u64 versions, Accept).
import type { TimeoutClass } from './types.js';

type RouteKind = 'pinnable' | 'head' | 'immutable' | 'tx_by_hash' | 'wait';

export interface Route {
  name: string;
  method: 'GET' | 'POST';
  re: RegExp;
  kind: RouteKind;
  /** Query params that change the answer, besides ledger_version for pinnable routes. */
  query: readonly string[];
  /** The path segment (capture group 1) is a ledger version: the call is pinned to it. */
  pinFromPath?: boolean;
}

const SEG = '[^/]+';
const ACCOUNT = `^/v1/accounts/${SEG}`;
const PAGE = ['limit', 'start'] as const;

const ROUTES: readonly Route[] = [
  { name: 'ledger_info', method: 'GET', re: /^\/v1$/, kind: 'head', query: [] },
  { name: 'account', method: 'GET', re: new RegExp(`${ACCOUNT}$`), kind: 'pinnable', query: [] },
  { name: 'account_resource', method: 'GET', re: new RegExp(`${ACCOUNT}/resource/${SEG}$`), kind: 'pinnable', query: [] },
  { name: 'account_resources', method: 'GET', re: new RegExp(`${ACCOUNT}/resources$`), kind: 'pinnable', query: PAGE },
  { name: 'account_module', method: 'GET', re: new RegExp(`${ACCOUNT}/module/${SEG}$`), kind: 'pinnable', query: [] },
  { name: 'account_modules', method: 'GET', re: new RegExp(`${ACCOUNT}/modules$`), kind: 'pinnable', query: PAGE },
  { name: 'account_balance', method: 'GET', re: new RegExp(`${ACCOUNT}/balance/${SEG}$`), kind: 'pinnable', query: [] },
  { name: 'account_transactions', method: 'GET', re: new RegExp(`${ACCOUNT}/transactions$`), kind: 'head', query: PAGE },
  { name: 'events', method: 'GET', re: new RegExp(`${ACCOUNT}/events/${SEG}(?:/${SEG})?$`), kind: 'head', query: PAGE },
  { name: 'tx_by_hash', method: 'GET', re: /^\/v1\/transactions\/by_hash\/[^/]+$/, kind: 'tx_by_hash', query: [] },
  { name: 'tx_wait_by_hash', method: 'GET', re: /^\/v1\/transactions\/wait_by_hash\/[^/]+$/, kind: 'wait', query: [] },
  { name: 'tx_by_version', method: 'GET', re: /^\/v1\/transactions\/by_version\/([^/]+)$/, kind: 'immutable', query: [], pinFromPath: true },
  { name: 'block_by_height', method: 'GET', re: /^\/v1\/blocks\/by_height\/[^/]+$/, kind: 'immutable', query: ['with_transactions'] },
  {
    name: 'block_by_version',
    method: 'GET',
    re: /^\/v1\/blocks\/by_version\/([^/]+)$/,
    kind: 'immutable',
    query: ['with_transactions'],
    pinFromPath: true,
  },
  { name: 'view', method: 'POST', re: /^\/v1\/view$/, kind: 'pinnable', query: [] },
  { name: 'table_item', method: 'POST', re: /^\/v1\/tables\/[^/]+\/item$/, kind: 'pinnable', query: [] },
];

/** Other non-GET endpoints: named for metrics; `write` says whether they go to the primary only. */
const OTHER_ENDPOINTS: ReadonlyArray<{ re: RegExp; name: string; write: boolean }> = [
  { re: /^\/v1\/transactions$/, name: 'tx_submit', write: true },
  { re: /^\/v1\/transactions\/batch$/, name: 'tx_submit_batch', write: true },
  // Reads that must never be cached (they answer for the mempool / gas market of the moment).
  { re: /^\/v1\/transactions\/simulate$/, name: 'tx_simulate', write: false },
  { re: /^\/v1\/transactions\/encode_submission$/, name: 'tx_encode', write: false },
  { re: /^\/v1\/estimate_gas_price$/, name: 'gas_price', write: false },
];

/** Upstream timeout classes (timeouts.byClass) by route name; the rest are normal. */
export const TIMEOUT_CLASS = new Map<string, TimeoutClass>([
  ...['ledger_info', 'view', 'table_item', 'account', 'account_resource', 'account_balance', 'tx_by_hash', 'tx_by_version'].map((r) => [r, 'fast'] as const),
  ...['block_by_height', 'block_by_version'].map((r) => [r, 'slow'] as const),
]);

const U64 = /^\d{1,20}$/;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const ACCEPT_BCS = 'application/x-bcs';

/** The path from the first `/v1` segment on, or undefined when there is none. */
export function fromV1(path: string): string | undefined {
  const m = /\/v1(?=\/|$)/.exec(path);
  return m === null ? undefined : path.slice(m.index);
}

export function matchRoute(method: string, rel: string | undefined): Route | undefined {
  return rel === undefined ? undefined : ROUTES.find((r) => r.method === method && r.re.test(rel));
}

export function otherEndpoint(method: string, rel: string | undefined): { name: string; write: boolean } {
  if (method === 'GET' || method === 'HEAD') return { name: 'other', write: false };
  const known = rel === undefined ? undefined : OTHER_ENDPOINTS.find((e) => e.re.test(rel));
  return known ?? { name: 'other', write: true };
}

/**
 * A HEAD on a cached GET route is that GET's read (RFC 9110 §9.3.2: the same headers, no body):
 * planned, keyed, coalesced and fetched as the GET — the node is asked the GET, never a HEAD,
 * whose bodiless answer could not fill the entry — and the writer leaves out the body.
 */
export function readMethod(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}

/** A u64 decimal (Aptos versions); undefined when the text is not one. */
export function parseU64(text: string): bigint | undefined {
  if (!U64.test(text)) return undefined;
  const n = BigInt(text);
  return n <= U64_MAX ? n : undefined;
}

/**
 * The representation the Aptos node will choose, negotiated as it does (poem's Accept, then
 * aptos-api parse_accept): media ranges in order of q-value (stable: header order breaks ties),
 * the first that is JSON or BCS wins, JSON when neither is listed. `q=0` means "not acceptable"
 * (RFC 9110 §12.4.2). The key holds this choice; the node gets the client's own header.
 */
export function negotiateAccept(accept: string | undefined): 'json' | 'bcs' {
  const ranges = (accept ?? '').split(',').map((part, order) => {
    const [type = '', ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    return { type, weight: Number.isFinite(weight) ? weight : 0, order };
  });
  const ordered = ranges.filter((r) => r.weight > 0).sort((a, b) => b.weight - a.weight || a.order - b.order);
  const first = ordered.find((r) => r.type === 'application/json' || r.type === ACCEPT_BCS);
  return first?.type === ACCEPT_BCS ? 'bcs' : 'json';
}
