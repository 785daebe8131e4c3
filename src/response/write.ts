// Writing answers to the client. A stored entry goes out as it is: a gzip-accepting client gets the
// stored deflate segment wrapped into a gzip member (no compression work), others the identity
// bytes. JSON-RPC answers are spliced around the stored results with each client's own id.
import type { ServerResponse } from 'node:http';
import { ENVELOPE_OPEN, envelopeMember, envelopePrefix, ENVELOPE_SUFFIX, rpcErrorText } from '../dialects/jsonrpc.js';
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
  /**
   * The identity answer's whole header list: the stored headers flat (name, value, ...) with vary
   * for compressed entries, then x-cache, x-request-id and content-length, whose three value
   * slots (IDENTITY_SLOTS) each write fills in before handing the list to writeHead. One list per
   * entry, reused: writeHead reads it synchronously into the header text and keeps no reference,
   * and nothing runs between the fill and that read, so no write sees another's values. A copy per
   * hit (and its growth on push) was two arrays of ~30 slots per request. The gzip answer starts
   * with the same stored headers: it copies the list up to the three slots.
   */
  identity: string[];
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
 * first hit on: a miss leaves no WeakMap entry and no header list behind. The list is made at its
 * final size in one pass (a miss built it twice before: the stored pairs, then a grown copy).
 */
function prepare(entry: CacheEntry, remember: boolean): PreparedEntry {
  let p = prepared.get(entry);
  if (p) return p;
  const stored = entry.headers;
  const identity = new Array<string>(2 * stored.length + (entry.compressed ? 2 : 0) + 6);
  let at = 0;
  for (let i = 0; i < stored.length; i++) {
    const pair = stored[i] as readonly [string, string];
    identity[at++] = pair[0];
    identity[at++] = pair[1];
  }
  if (entry.compressed) {
    identity[at++] = 'vary';
    identity[at++] = 'accept-encoding';
  }
  // A compressed entry's identity length is that of its inflated body, known once inflated.
  identity[at++] = 'x-cache';
  identity[at++] = '';
  identity[at++] = 'x-request-id';
  identity[at++] = '';
  identity[at++] = 'content-length';
  identity[at] = entry.compressed ? '' : String(entry.body.length);
  if (entry.compressed) {
    const gzip = gzipWrap(entry);
    p = { identity, gzip, gzipLength: String(gzip[0].length + gzip[1].length + gzip[2].length) };
  } else {
    p = { identity, identityLength: identity[at] as string };
  }
  if (remember) prepared.set(entry, p);
  return p;
}

/** Where x-cache's, x-request-id's and content-length's values sit, from the end of PreparedEntry.identity. */
const IDENTITY_SLOTS = { xCache: 5, requestId: 3, length: 1 } as const;

export function writeEntry(res: ServerResponse, entry: CacheEntry, opts: WriteOptions): void {
  if (res.headersSent || res.destroyed) return;
  const p = prepare(entry, opts.xCache !== 'MISS');
  if (opts.gzip && p.gzip) return writeGzipMember(res, entry.status, p, p.gzip, opts);
  const body = entry.compressed ? inflateSegment(entry.body) : entry.body;
  const headers = p.identity;
  const end = headers.length;
  headers[end - IDENTITY_SLOTS.xCache] = opts.xCache;
  headers[end - IDENTITY_SLOTS.requestId] = opts.requestId;
  headers[end - IDENTITY_SLOTS.length] = p.identityLength ?? String(body.length);
  // Extra headers (a miss's version) go on a copy: the shared list keeps its length.
  res.writeHead(entry.status, opts.extraHeaders ? headers.concat(opts.extraHeaders) : headers);
  // end() corks the socket itself: headers and body leave in one writev.
  res.end(opts.headOnly ? undefined : body);
}

function writeGzipMember(res: ServerResponse, status: number, p: PreparedEntry, chunks: [Buffer, Buffer, Buffer], opts: WriteOptions): void {
  const headers = p.identity.slice(0, p.identity.length - 6);
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
  let answered = 0;
  let anyCompressed = false;
  const { calls, results } = input;
  for (let i = 0; i < calls.length; i++) {
    const result = results[i];
    if (!result || calls[i]?.rpc?.notification) continue;
    answered++;
    if (result.cache !== 'error' && result.answer.entry.compressed) anyCompressed = true;
  }
  // Only notifications: JSON-RPC 2.0 §6 says nothing comes back, not even an empty array.
  if (answered === 0 && calls.length > 0 && calls.every((c) => c.rpc?.notification)) {
    send(res, 204, [], EMPTY, opts);
    return 204;
  }
  const headers = ['content-type', 'application/json'];
  let body: Buffer;
  if (!anyCompressed) body = identityAnswer(input);
  else {
    headers.push('vary', 'accept-encoding');
    if (opts.gzip) headers.push('content-encoding', 'gzip');
    body = opts.gzip ? gzipSplice(answerParts(input)) : identityOf(answerParts(input));
  }
  const status = rpcStatus(input);
  send(res, status, headers, body, opts);
  return status;
}

const EMPTY = Buffer.alloc(0);
const COMMA = Buffer.from(',');
const LBRACKET = Buffer.from('[');
const RBRACKET = Buffer.from(']');
const SUFFIX = Buffer.from(ENVELOPE_SUFFIX);
const OPEN = Buffer.from(ENVELOPE_OPEN);
const RESULT = Buffer.from(envelopeMember('result'));
const ERROR = Buffer.from(envelopeMember('error'));

/**
 * The whole answer in one buffer, sized first: per call the envelope's bytes, the client's id as
 * the raw text it sent, the stored result copied in (no intermediate buffer per call).
 */
function identityAnswer(input: RpcWriteInput): Buffer {
  const { calls, results, batch } = input;
  let errors: Array<string | undefined> | undefined;
  let size = batch ? 2 : 0;
  let answered = 0;
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i] as Call;
    const result = results[i];
    if (!result || call.rpc?.notification) continue;
    if (answered++ > 0) size++;
    if (result.cache === 'error') {
      const text = errorAnswer(call, result.error);
      (errors ??= [])[i] = text;
      size += Buffer.byteLength(text);
    } else {
      const member = result.answer.rpcError ? ERROR : RESULT;
      size += OPEN.length + textBytes(call.rpc?.idRaw ?? 'null') + member.length + result.answer.entry.body.length + SUFFIX.length;
    }
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (batch) out[at++] = LBRACKET[0] as number;
  answered = 0;
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i] as Call;
    const result = results[i];
    if (!result || call.rpc?.notification) continue;
    if (answered++ > 0) out[at++] = COMMA[0] as number;
    if (result.cache === 'error') {
      at += out.write(errors?.[i] as string, at);
      continue;
    }
    const { entry, rpcError } = result.answer;
    out.set(OPEN, at);
    at += OPEN.length;
    at = writeId(out, at, call.rpc?.idRaw ?? 'null');
    const member = rpcError ? ERROR : RESULT;
    out.set(member, at);
    at += member.length;
    out.set(entry.body, at);
    at += entry.body.length;
    out[at++] = SUFFIX[0] as number;
  }
  if (batch) out[at++] = RBRACKET[0] as number;
  return out;
}

/**
 * The id's raw text at `at`; where it ends. A short ASCII id (nearly all: `1`, `17`, `"abc"`) is
 * copied a byte per character: Buffer.write is a native call per call of the answer.
 */
function writeId(out: Buffer, at: number, id: string): number {
  if (id.length > 24) return at + out.write(id, at);
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) >= 0x80) return at + out.write(id, at);
  for (let i = 0; i < id.length; i++) out[at + i] = id.charCodeAt(i);
  return at + id.length;
}

/** UTF-8 length of a short text (ids are ASCII but for string ids with other characters). */
function textBytes(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return s.length;
}

/** Whatever was thrown, the reply is a JSON-RPC error with a numeric code (never `undefined`). */
function errorAnswer(call: Call, error: unknown): string {
  const err = asProxyError(error);
  return rpcErrorText(call.rpc?.idRaw ?? 'null', err.rpcCode, err.message);
}

/** The answer as parts around the stored segments, for splicing compressed results into one gzip. */
function answerParts(input: RpcWriteInput): Array<Buffer | Segment> {
  const parts: Array<Buffer | Segment> = [];
  let answered = 0;
  input.calls.forEach((call, i) => {
    const result = input.results[i];
    if (!result || call.rpc?.notification) return;
    if (answered++ > 0) parts.push(COMMA);
    if (result.cache === 'error') parts.push(Buffer.from(errorAnswer(call, result.error)));
    else {
      const { entry, rpcError } = result.answer;
      parts.push(Buffer.from(envelopePrefix(call.rpc?.idRaw ?? 'null', rpcError ? 'error' : 'result')), entry, SUFFIX);
    }
  });
  if (input.batch) parts.unshift(LBRACKET), parts.push(RBRACKET);
  return parts;
}

function identityOf(parts: Array<Buffer | Segment>): Buffer {
  const identity = parts.map((p) => (Buffer.isBuffer(p) ? p : p.compressed ? inflateSegment(p.body) : p.body));
  return identity.length === 1 ? (identity[0] as Buffer) : Buffer.concat(identity);
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

/** headers: flat (name, value, ...). */
function send(res: ServerResponse, status: number, headers: string[], body: Buffer, opts: WriteOptions): void {
  if (res.headersSent || res.destroyed) return;
  headers.push('x-cache', opts.xCache, 'x-request-id', opts.requestId);
  if (status !== 204) headers.push('content-length', String(body.length)); // RFC 9110 §8.6: never on 204
  if (opts.extraHeaders) headers.push(...opts.extraHeaders);
  res.writeHead(status, headers);
  res.end(opts.headOnly ? undefined : body);
}
