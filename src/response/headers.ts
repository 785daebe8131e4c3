// Header hygiene between client, proxy and node.
import { recentHeaderSets } from '../cache/stored-entry.js';

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
 * Answers a node sends while it stands at one block keep the same headers, and the entries stored
 * from them share one header set (cache/stored-entry.ts). So the recent shared sets are tried
 * first: one that holds exactly the pairs this answer keeps is returned as it is, and nothing is
 * built. Otherwise the list is built, sorted as it is picked (a handful: an insertion sort, no
 * comparator calls); names are unique.
 */
export function keptHeaders(headers: Record<string, string | string[] | undefined>, keep: (name: string) => boolean): KeptHeaders {
  const ownOnly = forInSeesOwnOnly(headers);
  if (ownOnly) {
    const known = recentSetHolding(headers, keep, keptCount(headers, keep));
    if (known !== undefined) return known;
  }
  const out: Array<[string, string]> = [];
  for (const name in headers) {
    const value = headers[name];
    if (typeof value !== 'string' || (!ownOnly && !Object.hasOwn(headers, name)) || !keep(name)) continue;
    let at = out.length;
    while (at > 0 && name < (out[at - 1] as [string, string])[0]) at--;
    if (at === out.length) out.push([name, value]);
    else out.splice(at, 0, [name, value]);
  }
  return out;
}

/** How many pairs the built list would hold (for-in sees own names only: see forInSeesOwnOnly). */
function keptCount(headers: Record<string, string | string[] | undefined>, keep: (name: string) => boolean): number {
  let count = 0;
  for (const name in headers) if (typeof headers[name] === 'string' && keep(name)) count++;
  return count;
}

/**
 * A recent shared set equal to the list keptHeaders would build. It is when it has as many pairs,
 * its names are strictly ascending (so unique and in the built list's order), and each of its
 * pairs is one the list holds: a kept name whose value here is that string. A string value is an
 * own property: the prototype is null or a clean Object.prototype, which has no string values.
 */
function recentSetHolding(headers: Record<string, string | string[] | undefined>, keep: (name: string) => boolean, count: number): KeptHeaders | undefined {
  const sets = recentHeaderSets();
  for (let s = 0; s < sets.length; s++) {
    const set = sets[s] as KeptHeaders;
    if (set.length === count && holdsAll(headers, keep, set)) return set;
  }
  return undefined;
}

function holdsAll(headers: Record<string, string | string[] | undefined>, keep: (name: string) => boolean, set: KeptHeaders): boolean {
  let previous: string | undefined;
  for (let i = 0; i < set.length; i++) {
    const [name, value] = set[i] as readonly [string, string];
    if (headers[name] !== value || (previous !== undefined && !(previous < name)) || !keep(name)) return false;
    previous = name;
  }
  return true;
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
