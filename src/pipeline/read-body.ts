// Reads a request body into memory, bounded by server.maxBodyBytes. A declared Content-Length over
// the bound is refused before a byte is read; a body that grows past it while streaming is refused
// as soon as it does, so an oversized upload costs the proxy at most the bound.
//
// Every request with a body comes through here, hits included, so a read allocates one object and
// its promise: the listeners are the module's own functions and find their read on the request,
// and all reads share one deadline timer (see the end of the file) instead of setting and clearing
// one each. (A Map from request to read cost more than the closures it saved: V8 grows and shrinks
// its table as reads come and go.)
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BodyTooLargeError, InvalidRequestError, RequestTimeoutError } from '../errors.js';

const READ = Symbol('ledgerproxy.bodyRead');

type ReadingRequest = IncomingMessage & { [READ]?: BodyRead | undefined };

class BodyRead {
  first: Buffer | undefined = undefined;
  /** Chunks after the first (most bodies come in one). */
  more: Buffer[] | undefined = undefined;
  size = 0;
  /** Neighbours in the list of reads in progress. */
  prev: BodyRead | undefined = undefined;
  next: BodyRead | undefined = undefined;

  constructor(
    readonly req: ReadingRequest,
    readonly maxBytes: number,
    /** performance.now() by which the whole body must have come. */
    readonly deadline: number,
    readonly resolve: (body: Buffer) => void,
    readonly reject: (err: Error) => void,
  ) {}
}

export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && declaredOver(declared, maxBytes)) {
    return Promise.reject(new BodyTooLargeError(`request body of ${declared} bytes exceeds the limit of ${maxBytes}`));
  }
  return new Promise((resolve, reject) => {
    const read = new BodyRead(req, maxBytes, performance.now() + timeoutMs, resolve, reject);
    (req as ReadingRequest)[READ] = read;
    startWatching(read);
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

/** 10^n for n < 16: `**` calls the C library's pow(). */
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, n) => 10 ** n);

/** node:http has checked Content-Length is digits: a value of n digits is below 10^n, no need to read it. */
function declaredOver(declared: string, maxBytes: number): boolean {
  const below = POWERS_OF_TEN[declared.length];
  return (below === undefined || below > maxBytes) && Number(declared) > maxBytes;
}

function onData(this: ReadingRequest, chunk: Buffer): void {
  const read = this[READ];
  if (read === undefined) return;
  read.size += chunk.length;
  if (read.size > read.maxBytes) finish(read, new BodyTooLargeError(`request body exceeds the limit of ${read.maxBytes} bytes`));
  else if (read.first === undefined) read.first = chunk;
  else (read.more ??= []).push(chunk);
}

function onEnd(this: ReadingRequest): void {
  const read = this[READ];
  if (read !== undefined) finish(read);
}

function onError(this: ReadingRequest, err: Error): void {
  const read = this[READ];
  if (read !== undefined) finish(read, new InvalidRequestError(`request body could not be read: ${err.message}`));
}

function onAborted(this: ReadingRequest): void {
  const read = this[READ];
  if (read !== undefined) finish(read, new InvalidRequestError('client aborted the request'));
}

function finish(read: BodyRead, err?: Error): void {
  const req = read.req;
  // Set, not deleted: a delete would turn the request object into a slow dictionary.
  req[READ] = undefined;
  stopWatching(read);
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
// Reads in progress form a list; one timer is armed for the earliest deadline. A read that ends
// only leaves the list; the timer, when it fires, fails the reads that are due and re-arms for the
// next. It is unref'd: a read in progress always has its client's socket, which keeps the process
// up and whose closing fails the read ('aborted').

let first: BodyRead | undefined;
let last: BodyRead | undefined;
let sweep: NodeJS.Timeout | undefined;
let sweepAt = Infinity;

function startWatching(read: BodyRead): void {
  read.prev = last;
  if (last) last.next = read;
  else first = read;
  last = read;
  if (read.deadline < sweepAt) armSweep(read.deadline);
}

function stopWatching(read: BodyRead): void {
  if (read.prev) read.prev.next = read.next;
  else first = read.next;
  if (read.next) read.next.prev = read.prev;
  else last = read.prev;
  read.prev = read.next = undefined;
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
  for (let read = first; read !== undefined;) {
    const after = read.next;
    if (read.deadline <= now) finish(read, new RequestTimeoutError('request body not received in time'));
    else if (read.deadline < next) next = read.deadline;
    read = after;
  }
  if (next !== Infinity) armSweep(next);
}
