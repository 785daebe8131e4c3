// Aptos fullnode REST (`/v1`). Routes are matched on the path from `/v1` on, so a proxy route
// prefix (`/aptos/mainnet/v1/...`) does not matter; the forwarded path starts at `/v1`.
//
// Cache safety: the key material holds exactly what can change the answer and the forwarded
// payload holds exactly what the key holds: method, path, the endpoint's known query params
// (sorted; unknown ones are dropped from both, so they can neither bust nor poison the cache),
// Accept normalised to json|bcs and sent as such, the normalised Content-Type and a hash of the
// raw body. `ledger_version` is left out of the key: the pipeline appends the version, so a head
// read pinned to H and the same read with `?ledger_version=H` share one entry.
//
// The endpoint table is aptos-routes.ts; what an answer says (cacheable, judged, node facts) is
// aptos-answers.ts; this file turns a request into its call.
import { hash } from 'node:crypto';
import { InvalidParamsError } from '../errors.js';
import { headFromLedgerInfo, isCacheable, judge, mediaTypeOf, nodeFacts, storableHeaders } from './aptos-answers.js';
import { fromV1, matchRoute, negotiateAccept, otherEndpoint, parseU64, queryPairs, readMethod, type Route } from './aptos-routes.js';
import { aptosChainIdentity } from './chain-identity.js';
import { aptosSeenVersion } from './seen-versions.js';
import type { Call, Dialect, InboundRequest, ParsedRequest, RestForward, UpstreamPayload } from './types.js';

function plan(method: string, path: string): { mode: 'parse' } | { mode: 'passthrough'; write: boolean } {
  const rel = fromV1(path);
  if (matchRoute(readMethod(method), rel) !== undefined) return { mode: 'parse' };
  return { mode: 'passthrough', write: otherEndpoint(method, rel).write };
}

function parse(inbound: InboundRequest): ParsedRequest {
  const rel = fromV1(inbound.path);
  const route = matchRoute(readMethod(inbound.method), rel);
  if (route === undefined || rel === undefined) return { kind: 'rest', call: otherCall(inbound, rel) };
  let call: Call;
  try {
    call = routeCall(route, inbound, rel);
  } catch (err) {
    // A version the proxy cannot read as one u64 (`?ledger_version=abc`, repeated, a path
    // version `x`): the node decides what it means (it may take the first of two, or refuse
    // with its own words). Forwarded exactly as sent, never stored.
    if (!(err instanceof InvalidParamsError)) throw err;
    call = asWrittenCall({ ...inbound, method: route.method }, rel, route.name);
  }
  return { kind: 'rest', call };
}

function header(h: InboundRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Media type without parameters: `application/json; charset=utf-8` answers like `application/json`. */
function contentTypeOf(h: InboundRequest['headers']): string | undefined {
  const v = header(h, 'content-type');
  const type = v === undefined ? '' : mediaTypeOf(v);
  return type === '' ? undefined : type;
}

interface Query {
  /** The known params except ledger_version, sorted by name (stable: repeated values keep their order), as query text. */
  text: string;
  ledgerVersion?: bigint;
}

const NO_QUERY: Query = { text: '' };

/**
 * The last query read and what it gave, for its route: clients pinned to a version send the same
 * query text until the next block (every request of the bench's miss load does). A Query is never
 * changed once made; a text that throws is never kept.
 */
let lastQuery: { raw: string; route: Route | undefined; query: Query } = { raw: '', route: undefined, query: NO_QUERY };

function readQuery(raw: string, route: Route): Query {
  if (raw === '') return NO_QUERY;
  if (raw === lastQuery.raw && route === lastQuery.route) return lastQuery.query;
  const query = parseQuery(raw, route);
  if (raw.length <= 256) lastQuery = { raw, route, query };
  return query;
}

function parseQuery(raw: string, route: Route): Query {
  const all = queryPairs(raw);
  const params = route.query.length === 0 ? [] : all.filter(([k]) => route.query.includes(k));
  if (params.length > 1) params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const text = queryText(params);
  if (route.kind !== 'pinnable') return { text };
  let versions = 0;
  let version = '';
  for (const [k, v] of all) {
    if (k !== 'ledger_version') continue;
    versions++;
    version = v;
  }
  if (versions === 0) return { text };
  const ledgerVersion = versions === 1 ? parseU64(version) : undefined;
  if (ledgerVersion === undefined) throw new InvalidParamsError('ledger_version must be one u64 decimal');
  return { text, ledgerVersion };
}

function queryText(params: ReadonlyArray<[string, string]>): string {
  let text = '';
  for (const [k, v] of params) text += `${text === '' ? '' : '&'}${encodeURIComponent(k)}=${encodeURIComponent(v)}`;
  return text;
}

function routeCall(route: Route, req: InboundRequest, rel: string): Call {
  const q = readQuery(req.query, route);
  // The client's Accept as sent (the node negotiates it exactly as negotiateAccept did).
  const sentAccept = header(req.headers, 'accept');
  const accept = negotiateAccept(sentAccept);
  const post = route.method === 'POST';
  const ct = post ? contentTypeOf(req.headers) : undefined;
  // A body sent compressed is keyed and forwarded with its Content-Encoding: the node decodes it.
  const ce = post ? header(req.headers, 'content-encoding')?.trim().toLowerCase() : undefined;
  let keyMaterial = `${route.method} ${rel}\nq=${q.text}\naccept=${accept}`;
  if (post) keyMaterial += `\nct=${ct ?? ''}\nce=${ce ?? ''}\n${bodyMaterial(req.body)}`;
  const sent: ForwardSpec = { method: route.method, rel, query: q.text, accept: sentAccept ?? 'application/json', ct, ce, body: post ? req.body : undefined };
  return classifyRoute(route, rel, q, accept, keyMaterial, sent);
}

/**
 * The raw body bytes: a small body as latin1 text (one byte, one char: exact, and the key hash
 * covers it anyway), a big one by its sha256, so key material stays bounded.
 */
function bodyMaterial(body: Buffer): string {
  return body.length <= 4096 ? `body=${body.toString('latin1')}` : `bodyhash=${hash('sha256', body, 'hex')}`;
}

function classifyRoute(route: Route, rel: string, q: Query, accept: 'json' | 'bcs', keyMaterial: string, sent: ForwardSpec): Call {
  const call = { name: route.name, keyMaterial } as Call;
  if (route.timeoutClass !== undefined) call.timeoutClass = route.timeoutClass;
  switch (route.kind) {
    case 'pinnable':
      if (q.ledgerVersion !== undefined) {
        call.cls = 'immutable';
        call.pin = q.ledgerVersion;
        call.rest = new RoutedForward(sent, q.ledgerVersion);
      } else {
        call.cls = 'head';
        call.rest = new PinnableForward(sent);
      }
      return call;
    case 'head':
      call.cls = 'head';
      break;
    case 'immutable':
      call.cls = 'immutable';
      // The version is the route's last segment (`/by_version/{version}`).
      if (route.pinFromPath === true) call.pin = parseU64(rel.slice(rel.lastIndexOf('/') + 1)) ?? invalidVersion();
      break;
    case 'tx_by_hash':
      // With BCS we cannot cheaply tell a pending transaction from a committed one: never store.
      call.cls = accept === 'bcs' ? 'uncached' : 'immutable';
      break;
    case 'wait':
      // Long-polls until committed: many waiters share one upstream call, nothing is stored
      // (class immutable so that the pipeline gives it a coalescing key; coalesceOnly and
      // isCacheable keep it out of the cache).
      call.cls = 'immutable';
      call.coalesceOnly = true;
      break;
  }
  call.rest = new RoutedForward(sent);
  return call;
}

/** What the node is sent for a routed call: the key's normalised query, the client's Accept. */
interface ForwardSpec {
  method: string;
  rel: string;
  /** The known params (without ledger_version) as query text. */
  query: string;
  accept: string;
  ct: string | undefined;
  ce: string | undefined;
  body: Buffer | undefined;
}

function payloadAt(s: ForwardSpec, lv: bigint | undefined): UpstreamPayload {
  const qs = lv === undefined ? s.query : s.query === '' ? `ledger_version=${lv}` : `${s.query}&ledger_version=${lv}`;
  const headers: Record<string, string> = { accept: s.accept };
  if (s.ct !== undefined) headers['content-type'] = s.ct;
  if (s.ce !== undefined && s.ce !== '' && s.ce !== 'identity') headers['content-encoding'] = s.ce;
  const p: UpstreamPayload = { method: s.method, pathAndQuery: qs === '' ? s.rel : `${s.rel}?${qs}`, headers };
  if (s.body !== undefined) p.body = s.body;
  return p;
}

/** The upstream request, built on first use only: a cache hit never needs it. */
class RoutedForward implements RestForward {
  private built: UpstreamPayload | undefined;
  constructor(
    protected readonly sent: ForwardSpec,
    private readonly pin?: bigint,
  ) {}

  get payload(): UpstreamPayload {
    this.built ??= payloadAt(this.sent, this.pin);
    return this.built;
  }
}

/** A head read the pipeline may send pinned to the head it keys the read by. */
class PinnableForward extends RoutedForward {
  readonly pinnedPayload = (h: bigint): UpstreamPayload => payloadAt(this.sent, h);
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
  const bodyHash = hasBody ? hash('sha256', req.body, 'hex') : '';
  return {
    cls: ep.write ? 'write' : 'uncached',
    name: ep.name,
    keyMaterial: `${req.method} ${payload.pathAndQuery}\naccept=${accept ?? ''}\nct=${ct ?? ''}\nce=${ce ?? ''}\nbody=${bodyHash}`,
    rest: { payload },
  };
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
