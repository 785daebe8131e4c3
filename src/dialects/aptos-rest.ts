// Aptos fullnode REST (`/v1`). Routes are matched on the path from `/v1` on, so a proxy route
// prefix (`/aptos/mainnet/v1/...`) does not matter; the forwarded path starts at `/v1`.
//
// Cache safety: the key material holds exactly what can change the answer and the forwarded
// payload holds exactly what the key holds: method, path, the endpoint's known query params
// (sorted; unknown ones are dropped from both, so they can neither bust nor poison the cache),
// Accept normalised to json|bcs and sent as such, the normalised Content-Type and a hash of the
// raw body. `ledger_version` is left out of the key: the pipeline appends the version, so a head
// read pinned to H and the same read with `?ledger_version=H` share one entry.
import { aptosChainIdentity } from './chain-identity.js';
import { createHash } from 'node:crypto';
import { InvalidParamsError } from '../errors.js';
import { keptHeaders } from '../response/headers.js';
import type { Call, CallAnswer, Dialect, InboundRequest, NodeFacts, ParsedRequest, RestForward, TimeoutClass, UpstreamPayload } from './types.js';
import { aptosSeenVersion } from './seen-versions.js';

type RouteKind = 'pinnable' | 'head' | 'immutable' | 'tx_by_hash' | 'wait';

interface Route {
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
const TIMEOUT_CLASS = new Map<string, TimeoutClass>([
  ...['ledger_info', 'view', 'table_item', 'account', 'account_resource', 'account_balance', 'tx_by_hash', 'tx_by_version'].map((r) => [r, 'fast'] as const),
  ...['block_by_height', 'block_by_version'].map((r) => [r, 'slow'] as const),
]);

type CallBase = Pick<Call, 'name' | 'keyMaterial' | 'timeoutClass'>;

const U64 = /^\d{1,20}$/;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const ACCEPT_BCS = 'application/x-bcs';

/** The path from the first `/v1` segment on, or undefined when there is none. */
export function fromV1(path: string): string | undefined {
  const m = /\/v1(?=\/|$)/.exec(path);
  return m === null ? undefined : path.slice(m.index);
}

function matchRoute(method: string, rel: string | undefined): Route | undefined {
  return rel === undefined ? undefined : ROUTES.find((r) => r.method === method && r.re.test(rel));
}

function otherEndpoint(method: string, rel: string | undefined): { name: string; write: boolean } {
  if (method === 'GET' || method === 'HEAD') return { name: 'other', write: false };
  const known = rel === undefined ? undefined : OTHER_ENDPOINTS.find((e) => e.re.test(rel));
  return known ?? { name: 'other', write: true };
}

/**
 * A HEAD on a cached GET route is that GET's read (RFC 9110 §9.3.2: the same headers, no body):
 * planned, keyed, coalesced and fetched as the GET — the node is asked the GET, never a HEAD,
 * whose bodiless answer could not fill the entry — and the writer leaves out the body.
 */
function readMethod(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}

function plan(method: string, path: string): { mode: 'parse' } | { mode: 'passthrough'; write: boolean } {
  const rel = fromV1(path);
  if (matchRoute(readMethod(method), rel) !== undefined) return { mode: 'parse' };
  return { mode: 'passthrough', write: otherEndpoint(method, rel).write };
}

function parse(inbound: InboundRequest): ParsedRequest {
  const rel = fromV1(inbound.path);
  const route = matchRoute(readMethod(inbound.method), rel);
  const req = route === undefined ? inbound : { ...inbound, method: route.method };
  if (route === undefined || rel === undefined) return { kind: 'rest', call: otherCall(req, rel) };
  let call: Call;
  try {
    call = routeCall(route, req, rel);
  } catch (err) {
    // A version the proxy cannot read as one u64 (`?ledger_version=abc`, repeated, a path
    // version `x`): the node decides what it means (it may take the first of two, or refuse
    // with its own words). Forwarded exactly as sent, never stored.
    if (!(err instanceof InvalidParamsError)) throw err;
    call = asWrittenCall(req, rel, route.name);
  }
  return { kind: 'rest', call };
}

/** A u64 decimal (Aptos versions); undefined when the text is not one. */
function parseU64(text: string): bigint | undefined {
  if (!U64.test(text)) return undefined;
  const n = BigInt(text);
  return n <= U64_MAX ? n : undefined;
}

function header(h: InboundRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
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

function acceptOf(h: InboundRequest['headers']): 'json' | 'bcs' {
  return negotiateAccept(header(h, 'accept'));
}

/** Media type without parameters: `application/json; charset=utf-8` answers like `application/json`. */
function contentTypeOf(h: InboundRequest['headers']): string | undefined {
  const v = header(h, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  return v === undefined || v === '' ? undefined : v;
}

interface Query {
  /** Known params except ledger_version, sorted by name (stable: repeated values keep their order). */
  params: Array<[string, string]>;
  ledgerVersion?: bigint;
}

function readQuery(raw: string, route: Route): Query {
  const all = new URLSearchParams(raw);
  const params = [...all].filter(([k]) => route.query.includes(k)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (route.kind !== 'pinnable') return { params };
  const lv = all.getAll('ledger_version');
  if (lv.length === 0) return { params };
  const ledgerVersion = lv.length === 1 ? parseU64(lv[0] ?? '') : undefined;
  if (ledgerVersion === undefined) throw new InvalidParamsError('ledger_version must be one u64 decimal');
  return { params, ledgerVersion };
}

function queryText(params: ReadonlyArray<[string, string]>): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function routeCall(route: Route, req: InboundRequest, rel: string): Call {
  const q = readQuery(req.query, route);
  const accept = acceptOf(req.headers);
  const post = route.method === 'POST';
  const ct = post ? contentTypeOf(req.headers) : undefined;
  // A body sent compressed is keyed and forwarded with its Content-Encoding: the node decodes it.
  const ce = post ? header(req.headers, 'content-encoding')?.trim().toLowerCase() : undefined;
  const sentAccept = header(req.headers, 'accept');
  const key = [`${req.method} ${rel}`, `q=${queryText(q.params)}`, `accept=${accept}`];
  if (post) key.push(`ct=${ct ?? ''}`, `ce=${ce ?? ''}`, bodyMaterial(req.body));
  const payloadAt = (lv?: bigint): UpstreamPayload => {
    const params: Array<[string, string]> = lv === undefined ? q.params : [...q.params, ['ledger_version', lv.toString()]];
    const qs = queryText(params);
    // The client's Accept as sent (the node negotiates it exactly as negotiateAccept did).
    const headers: Record<string, string> = { accept: sentAccept ?? 'application/json' };
    if (ct !== undefined) headers['content-type'] = ct;
    if (ce !== undefined && ce !== '' && ce !== 'identity') headers['content-encoding'] = ce;
    const p: UpstreamPayload = { method: req.method, pathAndQuery: qs === '' ? rel : `${rel}?${qs}`, headers };
    if (post) p.body = req.body;
    return p;
  };
  const base: CallBase = { name: route.name, keyMaterial: key.join('\n') };
  const timeoutClass = TIMEOUT_CLASS.get(route.name);
  if (timeoutClass !== undefined) base.timeoutClass = timeoutClass;
  return classifyRoute(route, rel, q, accept, base, payloadAt);
}

/**
 * The raw body bytes: a small body as latin1 text (one byte, one char: exact, and the key hash
 * covers it anyway), a big one by its sha256, so key material stays bounded.
 */
function bodyMaterial(body: Buffer): string {
  return body.length <= 4096 ? `body=${body.toString('latin1')}` : `bodyhash=${createHash('sha256').update(body).digest('hex')}`;
}

function classifyRoute(
  route: Route,
  rel: string,
  q: Query,
  accept: 'json' | 'bcs',
  base: CallBase,
  payloadAt: (lv?: bigint) => UpstreamPayload,
): Call {
  switch (route.kind) {
    case 'pinnable':
      if (q.ledgerVersion !== undefined) {
        return { ...base, cls: 'immutable', pin: q.ledgerVersion, rest: lazyPayload(() => payloadAt(q.ledgerVersion)) };
      }
      return { ...base, cls: 'head', rest: lazyPayload(() => payloadAt(), (h) => payloadAt(h)) };
    case 'head':
      return { ...base, cls: 'head', rest: lazyPayload(() => payloadAt()) };
    case 'immutable': {
      const call: Call = { ...base, cls: 'immutable', rest: lazyPayload(() => payloadAt()) };
      if (route.pinFromPath === true) call.pin = parseU64(route.re.exec(rel)?.[1] ?? '') ?? invalidVersion();
      return call;
    }
    case 'tx_by_hash':
      // With BCS we cannot cheaply tell a pending transaction from a committed one: never store.
      return { ...base, cls: accept === 'bcs' ? 'uncached' : 'immutable', rest: lazyPayload(() => payloadAt()) };
    case 'wait':
      // Long-polls until committed: many waiters share one upstream call, nothing is stored
      // (class immutable so that the pipeline gives it a coalescing key; coalesceOnly and
      // isCacheable keep it out of the cache).
      return { ...base, cls: 'immutable', coalesceOnly: true, rest: lazyPayload(() => payloadAt()) };
  }
}

/** Built on first use only: a cache hit never needs the upstream request. */
function lazyPayload(build: () => UpstreamPayload, pinnedPayload?: (h: bigint) => UpstreamPayload): RestForward {
  let built: UpstreamPayload | undefined;
  const forward: RestForward = {
    get payload() {
      built ??= build();
      return built;
    },
  };
  if (pinnedPayload) forward.pinnedPayload = pinnedPayload;
  return forward;
}

function invalidVersion(): never {
  throw new InvalidParamsError('version must be a u64 decimal');
}

/** A known read the proxy does not understand: uncached, sent with the client's query and headers. */
function asWrittenCall(req: InboundRequest, rel: string, name: string): Call {
  const call = otherCall(req, rel);
  return { ...call, cls: 'uncached', name };
}

/** Anything else: forwarded as sent (query included: we do not know which params matter). */
function otherCall(req: InboundRequest, rel: string | undefined): Call {
  const ep = otherEndpoint(req.method, rel);
  const path = rel ?? req.path;
  const headers: Record<string, string> = {};
  const accept = header(req.headers, 'accept');
  const ct = header(req.headers, 'content-type');
  const ce = header(req.headers, 'content-encoding');
  if (accept !== undefined) headers.accept = accept;
  if (ct !== undefined) headers['content-type'] = ct;
  if (ce !== undefined && req.method !== 'GET' && req.method !== 'HEAD') headers['content-encoding'] = ce;
  const payload: UpstreamPayload = { method: req.method, pathAndQuery: req.query === '' ? path : `${path}?${req.query}`, headers };
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  if (hasBody) payload.body = req.body;
  const bodyHash = hasBody ? createHash('sha256').update(req.body).digest('hex') : '';
  return {
    cls: ep.write ? 'write' : 'uncached',
    name: ep.name,
    keyMaterial: [`${req.method} ${payload.pathAndQuery}`, `accept=${accept ?? ''}`, `ct=${ct ?? ''}`, `ce=${ce ?? ''}`, `body=${bodyHash}`].join('\n'),
    rest: { payload },
  };
}

function isCacheable(call: Call, answer: CallAnswer): boolean {
  if (answer.status !== 200 || answer.headers['set-cookie'] !== undefined || call.coalesceOnly === true) return false;
  // SDKs poll by_hash while a transaction is pending; only a committed transaction is final.
  if (call.name === 'tx_by_hash') return isCommittedTransaction(answer.body);
  return true;
}

function isCommittedTransaction(body: Buffer): boolean {
  try {
    const tx: unknown = JSON.parse(body.toString('utf8'));
    if (typeof tx !== 'object' || tx === null) return false;
    const type = (tx as Record<string, unknown>).type;
    return typeof type === 'string' && type !== 'pending_transaction';
  } catch {
    return false;
  }
}

/**
 * A 200 must be what the endpoint returns before it may be stored or shared: a request that
 * negotiated BCS gets `application/x-bcs`; a JSON one gets a JSON content type and a body that
 * parses to the endpoint's shape (an object, or an array for the list endpoints). Anything else —
 * a balancer's `200 text/html` maintenance page — is a failing node: counted, asked elsewhere.
 */
function judge(answer: CallAnswer, pins: ReadonlyArray<bigint | undefined>, request?: UpstreamPayload): 'ok' | 'bad' | 'lacks-version' {
  const pin = pins[0];
  if (answer.status === 200 && !bodyFitsEndpoint(answer, request)) return 'bad';
  // A 404 for a version above the node's own ledger: it is behind, not the data missing.
  const nodeHead = nodeFacts(answer.headers).head;
  if (answer.status === 404 && pin !== undefined && nodeHead !== undefined && nodeHead < pin) return 'lacks-version';
  return 'ok';
}

/** Endpoints whose JSON answer is an array; `/balance` answers a bare number; the rest an object. */
const ARRAY_ROUTES = new Set(['view', 'account_resources', 'account_modules', 'account_transactions', 'events']);
const NUMBER_ROUTES = new Set(['account_balance']);

function bodyFitsEndpoint(answer: CallAnswer, request: UpstreamPayload | undefined): boolean {
  const type = mediaType(answer.headers['content-type']);
  if (request === undefined) return !type.includes('json') || parsedJson(answer.body) !== undefined;
  const rel = fromV1(request.pathAndQuery.split('?')[0] ?? '');
  const route = matchRoute(request.method, rel);
  // Unknown endpoints are not cached: only a JSON that does not parse is judged there.
  if (route === undefined) return !type.includes('json') || parsedJson(answer.body) !== undefined;
  if (negotiateAccept(request.headers.accept) === 'bcs') return type === ACCEPT_BCS;
  if (type !== 'application/json') return false;
  const doc = parsedJson(answer.body);
  if (NUMBER_ROUTES.has(route.name)) return typeof doc === 'number' || typeof doc === 'string';
  const wantArray = ARRAY_ROUTES.has(route.name);
  return typeof doc === 'object' && doc !== null && Array.isArray(doc) === wantArray;
}

function mediaType(v: string | string[] | undefined): string {
  const text = Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  return (text.split(';')[0] ?? '').trim().toLowerCase();
}

function parsedJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Every Aptos answer names the node's ledger version and, when it prunes, the oldest it keeps. */
function nodeFacts(headers: Record<string, string | string[] | undefined>): NodeFacts {
  const facts: NodeFacts = {};
  const head = u64Header(headers['x-aptos-ledger-version']);
  if (head !== undefined) facts.head = head;
  const oldest = u64Header(headers['x-aptos-ledger-oldest-version']);
  if (oldest !== undefined) facts.oldest = oldest;
  return facts;
}

function u64Header(v: string | string[] | undefined): bigint | undefined {
  const text = Array.isArray(v) ? v[0] : v;
  return text === undefined ? undefined : parseU64(text.trim());
}

/** The X-Aptos-* headers describe the ledger the answer is for (version, epoch, chain id): kept. */
const storableHeaders = (headers: Record<string, string | string[] | undefined>) =>
  keptHeaders(headers, (name) => name === 'content-type' || name.startsWith('x-aptos-'));

function headFromLedgerInfo(status: number, body: Buffer): bigint | undefined {
  if (status !== 200) return undefined;
  try {
    const info: unknown = JSON.parse(body.toString('utf8'));
    const lv = typeof info === 'object' && info !== null ? (info as Record<string, unknown>).ledger_version : undefined;
    return typeof lv === 'string' ? parseU64(lv) : undefined;
  } catch {
    return undefined;
  }
}

export const aptosRest: Dialect = {
  name: 'aptos-rest',
  kind: 'rest',
  plan,
  parse: (req) => parse(req),
  isCacheable,
  judge,
  nodeFacts,
  // 410 Gone: the node pruned the version the read is pinned to (its oldest-version header says so).
  prunedStatus: (status) => status === 410,
  storableHeaders,
  keyFromRequestBytes: true,
  observe: (call, answer) => aptosSeenVersion(call, answer),
  headPoll: () => ({
    payload: { method: 'GET', pathAndQuery: '/v1', headers: { accept: 'application/json' } },
    parse: headFromLedgerInfo,
  }),
  chainIdentity: aptosChainIdentity,
};
