// Reads a request body into memory, bounded by server.maxBodyBytes. A declared Content-Length over
// the bound is refused before a byte is read; a body that grows past it while streaming is refused
// as soon as it does, so an oversized upload costs the proxy at most the bound.
//
// Every request with a body comes through here, hits included, so a read allocates no closures:
// the listeners are the module's own functions and find their read by the request, and all reads
// share one deadline timer (body-deadlines below) instead of setting and clearing one each.
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BodyTooLargeError, InvalidRequestError, RequestTimeoutError } from '../errors.js';

interface BodyRead {
  resolve(body: Buffer): void;
  reject(err: Error): void;
  maxBytes: number;
  /** performance.now() by which the whole body must have come. */
  deadline: number;
  first: Buffer | undefined;
  /** Chunks after the first (most bodies come in one). */
  more: Buffer[] | undefined;
  size: number;
}

/** Reads in progress, by request. */
const reading = new Map<IncomingMessage, BodyRead>();

export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(new BodyTooLargeError(`request body of ${declared} bytes exceeds the limit of ${maxBytes}`));
  }
  return new Promise((resolve, reject) => {
    const deadline = performance.now() + timeoutMs;
    reading.set(req, { resolve, reject, maxBytes, deadline, first: undefined, more: undefined, size: 0 });
    watchDeadline(deadline);
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

function onData(this: IncomingMessage, chunk: Buffer): void {
  const read = reading.get(this);
  if (read === undefined) return;
  read.size += chunk.length;
  if (read.size > read.maxBytes) finish(this, read, new BodyTooLargeError(`request body exceeds the limit of ${read.maxBytes} bytes`));
  else if (read.first === undefined) read.first = chunk;
  else (read.more ??= []).push(chunk);
}

function onEnd(this: IncomingMessage): void {
  const read = reading.get(this);
  if (read !== undefined) finish(this, read);
}

function onError(this: IncomingMessage, err: Error): void {
  const read = reading.get(this);
  if (read !== undefined) finish(this, read, new InvalidRequestError(`request body could not be read: ${err.message}`));
}

function onAborted(this: IncomingMessage): void {
  const read = reading.get(this);
  if (read !== undefined) finish(this, read, new InvalidRequestError('client aborted the request'));
}

function finish(req: IncomingMessage, read: BodyRead, err?: Error): void {
  reading.delete(req);
  req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
  if (err) {
    req.pause();
    read.reject(err);
    return;
  }
  if (read.more === undefined) read.resolve(read.first ?? Buffer.alloc(0));
  else read.resolve(Buffer.concat([read.first as Buffer, ...read.more], read.size));
}

// ---- body deadlines ---------------------------------------------------------------------------
// One timer for every read in progress, armed for the earliest deadline. A read that ends only
// leaves the map; the timer, when it fires, fails the reads that are due and re-arms for the next.
// It is unref'd: a read in progress always has its client's socket, which keeps the process up and
// whose closing fails the read ('aborted').

let sweep: NodeJS.Timeout | undefined;
let sweepAt = Infinity;

function watchDeadline(deadline: number): void {
  if (deadline < sweepAt) armSweep(deadline);
}

function armSweep(at: number): void {
  if (sweep !== undefined) clearTimeout(sweep);
  sweepAt = at;
  sweep = setTimeout(expireDue, Math.max(1, Math.ceil(at - performance.now())));
  sweep.unref();
}

function expireDue(): void {
  sweep = undefined;
  sweepAt = Infinity;
  // A timer fires by the event loop's clock, which can be up to a millisecond behind this one.
  const now = performance.now() + 1;
  let next = Infinity;
  for (const [req, read] of reading) {
    if (read.deadline <= now) finish(req, read, new RequestTimeoutError('request body not received in time'));
    else if (read.deadline < next) next = read.deadline;
  }
  if (next !== Infinity) armSweep(next);
}
