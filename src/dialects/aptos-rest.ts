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
import { createHash } from 'node:crypto';
import { InvalidParamsError } from '../errors.js';
import { headFromLedgerInfo, isCacheable, judge, nodeFacts, storableHeaders } from './aptos-answers.js';
import { fromV1, matchRoute, negotiateAccept, otherEndpoint, parseU64, readMethod, TIMEOUT_CLASS, type Route } from './aptos-routes.js';
import { aptosChainIdentity } from './chain-identity.js';
import { aptosSeenVersion } from './seen-versions.js';
import type { Call, Dialect, InboundRequest, ParsedRequest, RestForward, UpstreamPayload } from './types.js';

type CallBase = Pick<Call, 'name' | 'keyMaterial' | 'timeoutClass'>;

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

function header(h: InboundRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
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
