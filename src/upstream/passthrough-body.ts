// The body a pass-through request carries to the node, and its framing. The client's framing
// headers are never copied (headers.ts): node:http has already parsed the client's framing (and
// refused requests whose Content-Length and Transfer-Encoding disagree), so the proxy knows how
// many bytes the client sent and frames them again itself on the node connection:
// - no body (no Content-Length, or 0, and not chunked): none is sent, whatever `Connection` says;
// - a known length up to SMALL_BODY_BYTES, and any body on a method without payload semantics
//   (GET, HEAD, DELETE, OPTIONS, ...): read first (bounded by maxBodyBytes) and sent as one buffer
//   with a Content-Length of the bytes actually read — a chunked DELETE is no longer rewritten to
//   `content-length: 0` with its chunks still written behind it (issue 14 #1). A buffered body can
//   also be sent again to another node;
// - larger POST/PUT/PATCH bodies stream, bounded by maxBodyBytes while they do: with the length
//   node:http validated as Content-Length, or chunked (undici frames both; a body that ends short
//   of its length aborts the node connection instead of leaving it half-written).
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { BodyTooLargeError } from '../errors.js';
import { readBody } from '../pipeline/read-body.js';

/** Bodies this small are read before dispatch: one write to the node, and replayable. */
export const SMALL_BODY_BYTES = 64 * 1024;

const payloadMethods = new Set(['POST', 'PUT', 'PATCH']);

export interface RelayBody {
  /** null: no body. A Buffer can be sent again; a stream only once. */
  body: Buffer | Readable | null;
  /** Content-Length to declare for a streamed body (undefined: chunked). */
  length?: number;
}

export async function prepareBody(req: IncomingMessage, maxBodyBytes: number, timeoutMs: number): Promise<RelayBody> {
  const declared = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = declared === undefined ? undefined : Number(declared);
  if (!chunked && (length === undefined || length === 0)) return { body: null };
  if (length !== undefined && length > maxBodyBytes) {
    throw new BodyTooLargeError(`request body of ${length} bytes exceeds the limit of ${maxBodyBytes}`);
  }
  const method = req.method ?? 'GET';
  if (!payloadMethods.has(method) || (length !== undefined && length <= SMALL_BODY_BYTES)) {
    const bytes = await readBody(req, maxBodyBytes, timeoutMs);
    return { body: bytes.length === 0 ? null : bytes };
  }
  return length === undefined ? { body: bounded(req, maxBodyBytes) } : { body: req, length };
}

/** The client's chunked body, failing with 413 once it grows past the limit. */
function bounded(req: IncomingMessage, maxBytes: number): Readable {
  let size = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) done(new BodyTooLargeError(`request body exceeds the limit of ${maxBytes} bytes`));
      else done(null, chunk);
    },
  });
  req.once('error', (err) => limiter.destroy(err));
  req.once('aborted', () => limiter.destroy(new Error('client aborted the request')));
  return req.pipe(limiter);
}
