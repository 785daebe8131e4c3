// Header hygiene between client, proxy and node.

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the proxy recomputes itself. */
const notForwarded = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length', 'content-encoding', 'date',
]);

/** Response headers of an answer that is passed on but not stored. */
export function passableResponseHeaders(headers: Record<string, string | string[] | undefined>): Array<[string, string]> {
  const connectionTokens = tokens(headers['connection']);
  const out: Array<[string, string]> = [];
  const ownOnly = forInSeesOwnOnly(headers);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || notForwarded.has(name) || connectionTokens.has(name) || (!ownOnly && !Object.hasOwn(headers, name))) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}

/** A stored header list: sorted [name, value] pairs, never changed once made. */
export type KeptHeaders = ReadonlyArray<readonly [string, string]>;

/**
 * The single-valued headers a stored entry keeps, by the dialect's rule of which ones describe the
 * data (Dialect.storableHeaders), sorted by name so equal answers store equal bytes.
 *
 * A node's answers within one block carry the same headers in the same order, so the last list is
 * kept with what it was made from (keptAgain): an answer that walks the same names, keeps the same
 * ones and holds the same kept values gets that list again, and nothing is built. Otherwise the
 * list is built, sorted as it is picked (a handful: an insertion sort, no comparator calls); names
 * are unique. The list is shared, so it is read-only (as every CacheEntry's headers are).
 */
export function keptHeaders(headers: Record<string, string | string[] | undefined>, keep: (name: string) => boolean): KeptHeaders {
  const ownOnly = forInSeesOwnOnly(headers);
  if (ownOnly && last.keep === keep && keptAgain(headers, last)) return last.out;
  const out: Array<[string, string]> = [];
  for (const name in headers) {
    const value = headers[name];
    if (typeof value !== 'string' || (!ownOnly && !Object.hasOwn(headers, name)) || !keep(name)) continue;
    let at = out.length;
    while (at > 0 && name < (out[at - 1] as [string, string])[0]) at--;
    if (at === out.length) out.push([name, value]);
    else out.splice(at, 0, [name, value]);
  }
  if (ownOnly) last = lastMadeFrom(headers, keep, out);
  return out;
}

/** The JSON-RPC dialects' rule: only the content type describes the data. One function, so keptHeaders' last list serves it. */
export const contentTypeOnly = (name: string): boolean => name === 'content-type';

/**
 * The last built list and what it was made from, in for-in order: every name, whether the rule
 * keeps it, and its value when the rule keeps it and it is single-valued (undefined otherwise).
 */
interface LastKept {
  keep: ((name: string) => boolean) | undefined;
  names: string[];
  ruleKeeps: boolean[];
  values: Array<string | undefined>;
  out: KeptHeaders;
}

let last: LastKept = { keep: undefined, names: [], ruleKeeps: [], values: [], out: [] };

/**
 * The list is a function of the names the for-in walk sees, in order, and of the single-valued
 * values of those the rule keeps (the rule is a pure function of the name): the same walk gives the
 * same list. A name at the same place as last time reuses the rule's verdict on it (nodes' header
 * names are the same strings there, see upstream/raw-headers.ts: a pointer compare, no lookup).
 */
function keptAgain(headers: Record<string, string | string[] | undefined>, was: LastKept): boolean {
  let at = 0;
  for (const name in headers) {
    if (at >= was.names.length || name !== was.names[at]) return false;
    if (was.ruleKeeps[at] === true) {
      const value = headers[name];
      if ((typeof value === 'string' ? value : undefined) !== was.values[at]) return false;
    }
    at++;
  }
  return at === was.names.length;
}

function lastMadeFrom(headers: Record<string, string | string[] | undefined>, keep: (name: string) => boolean, out: KeptHeaders): LastKept {
  const made: LastKept = { keep, names: [], ruleKeeps: [], values: [], out };
  for (const name in headers) {
    const value = headers[name];
    const ruleKeeps = keep(name);
    made.names.push(name);
    made.ruleKeeps.push(ruleKeeps);
    made.values.push(ruleKeeps && typeof value === 'string' ? value : undefined);
  }
  return made;
}

/**
 * The filters walk the header object with for-in, which gives the names in Object.entries order
 * without building the entries. It also gives inherited enumerable names, which Object.entries does
 * not: there are none when the prototype is null or a clean Object.prototype (the header objects of
 * node:http and undici), and otherwise each name is checked to be the object's own.
 */
function forInSeesOwnOnly(o: object): boolean {
  const proto = Object.getPrototypeOf(o) as object | null;
  if (proto === null) return true;
  if (proto !== Object.prototype) return false;
  for (const _ in proto) return false;
  return true;
}

/**
 * Request headers that never travel from the client to a node on the pass-through path:
 * - hop-by-hop (RFC 9110 §7.6.1) and `expect` (the proxy answered it on the client's hop);
 * - framing (`content-length`, `transfer-encoding`) and `host`: the node connection is shared by
 *   every client, so the framing of what the proxy writes on it is computed by the proxy (undici)
 *   from the bytes it actually sends, never copied from a client. A client's framing header cannot
 *   be smuggled through, and naming it in `Connection` cannot make the proxy drop it while still
 *   streaming the body (the desync of issue 14);
 * - forwarding claims a node may trust (`forwarded`, `x-real-ip`, `x-forwarded-*`, `x-original-url`...):
 *   the proxy writes its own X-Forwarded-For/-Proto/-Host under its trust policy.
 */
const neverForwardedRequest = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'expect',
  'content-length', 'transfer-encoding', 'host', 'http2-settings',
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix',
  'x-forwarded-server', 'x-forwarded-ssl', 'x-forwarded-scheme', 'x-real-ip', 'x-client-ip', 'x-cluster-client-ip',
  'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-original-url', 'x-rewrite-url', 'x-original-host',
  'x-original-uri', 'x-http-method-override', 'x-http-method', 'x-method-override',
  'x-request-id',
  // Proxy-only request headers: they end at the proxy.
  'x-read-consistency', 'x-min-ledger-version',
]);

/** Headers the proxy itself writes on the client's behalf; a Connection token cannot remove them. */
const framing = new Set(['content-length', 'transfer-encoding', 'host']);

/**
 * The headers a pass-through request carries to the node, as a flat [name, value, ...] list (the
 * form undici takes without another copy). Built from the client's parsed headers by exclusion:
 * the rules above, every extra name in `drop` (the API-key header), and every name the client listed
 * in `Connection` except the framing ones, which are the proxy's to set.
 */
export function passThroughRequestHeaders(headers: Record<string, string | string[] | undefined>, drop: ReadonlySet<string> = emptySet): string[] {
  const listed = tokens(headers['connection']);
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || neverForwardedRequest.has(name) || drop.has(name)) continue;
    if (listed.size > 0 && listed.has(name) && !framing.has(name)) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return out;
}

const emptySet: ReadonlySet<string> = new Set();

/**
 * Removes, in place, the request headers that belong to the client's hop (RFC 9110 §7.6.1), plus
 * any other the client listed in Connection. Framing headers are never removable by a Connection
 * token: a body the server read by its Content-Length/Transfer-Encoding keeps that framing.
 * `keepUpgrade` keeps Connection/Upgrade for a WebSocket handshake.
 */
export function stripHopByHopRequest(headers: Record<string, string | string[] | undefined>, keepUpgrade = false): void {
  for (const name of tokens(headers['connection'])) {
    if (framing.has(name) || (keepUpgrade && name === 'upgrade')) continue;
    delete headers[name];
  }
  for (const name of ['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'expect', 'http2-settings']) delete headers[name];
  if (!keepUpgrade) {
    delete headers['connection'];
    delete headers['upgrade'];
  }
}

/**
 * Response headers of a pass-through answer, as a flat list for writeHead: the node's framing
 * (`content-length`) and `content-encoding` are kept, since the bytes are relayed as they came;
 * chunking is redone by node:http on the client's hop; hop-by-hop and Connection-listed names stay
 * on the node's hop.
 */
export function passThroughResponseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const listed = tokens(headers['connection']);
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || responseHopByHop.has(name)) continue;
    if (listed.size > 0 && listed.has(name) && name !== 'content-length') continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return out;
}

const responseHopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer', 'proxy-authenticate']);

/**
 * undici's raw response headers → what passThroughResponseHeaders gives (the flat list for
 * writeHead, same rules) and the parsed object, in one pass over the raw pairs: the pass-through
 * path does this for every relayed answer.
 */
export function relayedResponseHeaders(raw: Buffer[]): { flat: string[]; parsed: Record<string, string | string[]> } {
  const parsed: Record<string, string | string[]> = {};
  const flat: string[] = [];
  let connection = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const value = (raw[i + 1] as Buffer).toString('latin1');
    const prev = parsed[name];
    if (prev === undefined) parsed[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else parsed[name] = [prev, value];
    if (name === 'connection') connection = true;
    if (!responseHopByHop.has(name)) flat.push(name, value);
  }
  if (!connection) return { flat, parsed };
  // Rare: names the node listed in Connection stay on its hop too.
  const listed = tokens(parsed['connection']);
  const kept: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string;
    if (!listed.has(name) || name === 'content-length') kept.push(name, flat[i + 1] as string);
  }
  return { flat: kept, parsed };
}

/** Removes, in place, response headers the node listed in Connection (they were for its hop). */
export function stripConnectionListed(headers: Record<string, string | string[] | undefined>): void {
  for (const name of tokens(headers['connection'])) if (name !== 'close' && name !== 'keep-alive') delete headers[name];
  delete headers['keep-alive'];
  delete headers['proxy-connection'];
}

const noTokens: ReadonlySet<string> = new Set();

/**
 * The names listed in a Connection header. Nodes and clients send the same one or two values
 * (`keep-alive`, `close`) on every message: a short one is read once and its (read-only) set reused.
 */
function tokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return noTokens;
  if (Array.isArray(value)) return tokenSet(value.join(','));
  if (value.length > 64) return tokenSet(value);
  let known = connectionValues.get(value);
  if (known === undefined) {
    if (connectionValues.size >= 64) connectionValues.clear();
    known = tokenSet(value);
    connectionValues.set(value, known);
  }
  return known;
}

const connectionValues = new Map<string, ReadonlySet<string>>();

function tokenSet(joined: string): ReadonlySet<string> {
  return new Set(joined.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/** Does the client take gzip? Honours q=0 ("gzip;q=0" and "*;q=0" mean no). */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  const value = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const item of value.split(',')) {
    const [rawNameUntrimmed, ...params] = item.toLowerCase().split(';');
    const rawName = rawNameUntrimmed?.trim();
    const q = params.map((p) => p.trim().replace(/\s*=\s*/, '=')).find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (rawName === 'gzip' || rawName === 'x-gzip') gzip = Number.isNaN(weight) ? 0 : weight;
    else if (rawName === '*') star = Number.isNaN(weight) ? 0 : weight;
  }
  return (gzip ?? star ?? 0) > 0;
}
