// Reads a request body into memory, bounded by server.maxBodyBytes. A declared Content-Length over
// the bound is refused before a byte is read; a body that grows past it while streaming is refused
// as soon as it does, so an oversized upload costs the proxy at most the bound.
import type { IncomingMessage } from 'node:http';
import { BodyTooLargeError, InvalidRequestError, RequestTimeoutError } from '../errors.js';

export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(new BodyTooLargeError(`request body of ${declared} bytes exceeds the limit of ${maxBytes}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => finish(new RequestTimeoutError('request body not received in time')), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish(new BodyTooLargeError(`request body exceeds the limit of ${maxBytes} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(new InvalidRequestError(`request body could not be read: ${err.message}`));
    const onAborted = () => finish(new InvalidRequestError('client aborted the request'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}
