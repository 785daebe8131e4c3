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
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || notForwarded.has(name) || connectionTokens.has(name)) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}

/**
 * The single-valued headers a stored entry keeps, by the dialect's rule of which ones describe the
 * data (Dialect.storableHeaders), sorted by name so equal answers store equal bytes.
 */
export function keptHeaders(headers: Record<string, string | string[] | undefined>, keep: (name: string) => boolean): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string' && keep(name)) out.push([name, value]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const hopByHopRequest = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade'];

/**
 * Removes, in place, the request headers that belong to the client's hop (RFC 9110 §7.6.1), plus
 * any the client listed in Connection, before the request is streamed to a node. `keepUpgrade`
 * keeps Connection/Upgrade for a WebSocket handshake.
 */
export function stripHopByHopRequest(headers: Record<string, string | string[] | undefined>, keepUpgrade = false): void {
  for (const name of tokens(headers['connection'])) if (!keepUpgrade || name !== 'upgrade') delete headers[name];
  for (const name of hopByHopRequest) if (!keepUpgrade || (name !== 'upgrade' && name !== 'connection')) delete headers[name];
}

/** Removes, in place, response headers the node listed in Connection (they were for its hop). */
export function stripConnectionListed(headers: Record<string, string | string[] | undefined>): void {
  for (const name of tokens(headers['connection'])) if (name !== 'close' && name !== 'keep-alive') delete headers[name];
  delete headers['keep-alive'];
  delete headers['proxy-connection'];
}

function tokens(value: string | string[] | undefined): Set<string> {
  if (value === undefined) return new Set();
  const joined = Array.isArray(value) ? value.join(',') : value;
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
