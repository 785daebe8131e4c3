// Writing answers to the client. A stored entry goes out as it is: a gzip-accepting client gets the
// stored deflate segment wrapped into a gzip member (no compression work), others the identity
// bytes. JSON-RPC answers are spliced around the stored results with each client's own id.
import type { ServerResponse } from 'node:http';
import { envelopePrefix, ENVELOPE_SUFFIX, rpcErrorText } from '../dialects/jsonrpc.js';
import type { Call } from '../dialects/types.js';
import type { CallResult } from '../runtime/types.js';
import type { CacheEntry } from '../cache/types.js';
import { asProxyError } from '../errors.js';
import { gzipSplice, gzipWrap, inflateSegment, type Segment } from './gzip-splice.js';

export interface WriteOptions {
  gzip: boolean;
  headOnly: boolean;
  requestId: string;
  xCache: string;
  /** More headers, flat (name, value, ...), e.g. x-ledgerproxy-version. */
  extraHeaders?: string[];
}

/** What every hit of one entry shares, prepared on its first hit (the entry never changes). */
interface PreparedEntry {
  headers: string[];
  /** Content-Length of the stored bytes, when they are the identity body (not compressed). */
  identityLength?: string;
  /** Gzip member as chunks (header, stored segment, tail), for compressed entries, and its length. */
  gzip?: [Buffer, Buffer, Buffer];
  gzipLength?: string;
}

const prepared = new WeakMap<CacheEntry, PreparedEntry>();

/**
 * remember false: the entry's first write, by the miss that fetched it. Most entries are never hit
 * (a miss-heavy load fills the cache with them), so what a hit would share is kept only from the
 * first hit on: a miss leaves no WeakMap entry and no flat header array behind.
 */
function prepare(entry: CacheEntry, remember: boolean): PreparedEntry {
  let p = prepared.get(entry);
  if (p) return p;
  const headers: string[] = [];
  for (const [n, v] of entry.headers) headers.push(n, v);
  if (entry.compressed) {
    headers.push('vary', 'accept-encoding');
    const gzip = gzipWrap(entry);
    p = { headers, gzip, gzipLength: String(gzip[0].length + gzip[1].length + gzip[2].length) };
  } else {
    p = { headers, identityLength: String(entry.body.length) };
  }
  if (remember) prepared.set(entry, p);
  return p;
}

export function writeEntry(res: ServerResponse, entry: CacheEntry, opts: WriteOptions): void {
  if (res.headersSent || res.destroyed) return;
  const p = prepare(entry, opts.xCache !== 'MISS');
  if (opts.gzip && p.gzip) return writeGzipMember(res, entry.status, p, p.gzip, opts);
  const body = entry.compressed ? inflateSegment(entry.body) : entry.body;
  // slice + push: Array.prototype.concat is a slow C++ builtin, a copy of a packed array is not.
  const headers = p.headers.slice();
  headers.push('x-cache', opts.xCache, 'x-request-id', opts.requestId, 'content-length', p.identityLength ?? String(body.length));
  if (opts.extraHeaders) headers.push(...opts.extraHeaders);
  res.writeHead(entry.status, headers);
  // end() corks the socket itself: headers and body leave in one writev.
  res.end(opts.headOnly ? undefined : body);
}

function writeGzipMember(res: ServerResponse, status: number, p: PreparedEntry, chunks: [Buffer, Buffer, Buffer], opts: WriteOptions): void {
  const headers = p.headers.slice();
  headers.push('x-cache', opts.xCache, 'x-request-id', opts.requestId, 'content-length', p.gzipLength as string);
  if (opts.extraHeaders) headers.push(...opts.extraHeaders);
  headers.push('content-encoding', 'gzip');
  res.writeHead(status, headers);
  if (opts.headOnly) {
    res.end();
    return;
  }
  // Corked: headers and every chunk leave in one writev.
  res.cork();
  res.write(chunks[0]);
  res.write(chunks[1]);
  res.end(chunks[2]);
  res.uncork();
}

export interface RpcWriteInput {
  calls: readonly Call[];
  results: readonly CallResult[];
  batch: boolean;
}

/** Returns the HTTP status written. */
export function writeRpc(res: ServerResponse, input: RpcWriteInput, opts: WriteOptions): number {
  const parts: Array<Buffer | Segment> = [];
  let anyCompressed = false;
  let answered = 0;
  input.calls.forEach((call, i) => {
    const result = input.results[i];
    if (!result || call.rpc?.notification) return;
    if (answered++ > 0) parts.push(COMMA);
    anyCompressed = pushAnswer(parts, call, result) || anyCompressed;
  });
  // Only notifications: JSON-RPC 2.0 §6 says nothing comes back, not even an empty array.
  if (answered === 0 && input.calls.length > 0 && input.calls.every((c) => c.rpc?.notification)) {
    send(res, 204, [], Buffer.alloc(0), opts);
    return 204;
  }
  if (input.batch) parts.unshift(LBRACKET), parts.push(RBRACKET);
  const headers: Array<[string, string]> = [['content-type', 'application/json']];
  const body = encodeBody(parts, opts.gzip, headers, anyCompressed);
  const status = rpcStatus(input);
  send(res, status, headers, body, opts);
  return status;
}

const COMMA = Buffer.from(',');
const LBRACKET = Buffer.from('[');
const RBRACKET = Buffer.from(']');
const SUFFIX = Buffer.from(ENVELOPE_SUFFIX);

function pushAnswer(parts: Array<Buffer | Segment>, call: Call, result: CallResult): boolean {
  const idRaw = call.rpc?.idRaw ?? 'null';
  if (result.cache === 'error') {
    // Whatever was thrown, the reply is a JSON-RPC error with a numeric code (never `undefined`).
    const err = asProxyError(result.error);
    parts.push(Buffer.from(rpcErrorText(idRaw, err.rpcCode, err.message)));
    return false;
  }
  const { entry, rpcError } = result.answer;
  parts.push(Buffer.from(envelopePrefix(idRaw, rpcError ? 'error' : 'result')), entry, SUFFIX);
  return entry.compressed;
}

/**
 * A single call answers with the node's HTTP status (a node's 500 carrying a JSON-RPC error stays
 * a 500), or the status of the proxy's own upstream/internal failure; client errors of a single
 * call are 200 like geth's; batches are always 200.
 */
function rpcStatus(input: RpcWriteInput): number {
  const only = input.results[0];
  if (input.batch || input.results.length !== 1 || !only) return 200;
  if (only.cache !== 'error') return only.answer.entry.status;
  const err = asProxyError(only.error);
  return err.source === 'upstream' || err.source === 'internal' ? err.status : 200;
}

function encodeBody(parts: Array<Buffer | Segment>, gzip: boolean, headers: Array<[string, string]>, anyCompressed: boolean): Buffer {
  if (anyCompressed) headers.push(['vary', 'accept-encoding']);
  if (gzip && anyCompressed) {
    headers.push(['content-encoding', 'gzip']);
    return gzipSplice(parts);
  }
  const identity = parts.map((p) => (Buffer.isBuffer(p) ? p : p.compressed ? inflateSegment(p.body) : p.body));
  return identity.length === 1 ? (identity[0] as Buffer) : Buffer.concat(identity);
}

function send(res: ServerResponse, status: number, headers: Array<[string, string]>, body: Buffer, opts: WriteOptions): void {
  if (res.headersSent || res.destroyed) return;
  const flat: string[] = [];
  for (const [n, v] of headers) flat.push(n, v);
  flat.push('x-cache', opts.xCache, 'x-request-id', opts.requestId);
  if (status !== 204) flat.push('content-length', String(body.length)); // RFC 9110 §8.6: never on 204
  if (opts.extraHeaders) flat.push(...opts.extraHeaders);
  res.writeHead(status, flat);
  res.end(opts.headOnly ? undefined : body);
}
