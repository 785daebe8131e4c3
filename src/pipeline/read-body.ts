// Reads a request body into memory, bounded by server.maxBodyBytes. A declared Content-Length over
// the bound is refused before a byte is read; a body that grows past it while streaming is refused
// as soon as it does, so an oversized upload costs the proxy at most the bound.
//
// Every request with a body comes through here, hits included, so a read allocates one object:
// the listeners are the module's own functions and find their read on the request, and the read
// is itself the DeadlineCancellation that upstream/deadlines.ts's one shared timer cancels when the
// body is late (no timer, closure or second record per read). (A Map from request to read cost
// more than the closures it saved: V8 grows and shrinks its table as reads come and go.) The
// buffered pipeline is told of the body by a sink (readBodyInto), from the request's 'end' event
// itself: no promise, no closures and no microtask hop between the body's arrival and the hit's
// answer. readBody() is the same read as a promise, for callers that await it.
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BodyTooLargeError, InvalidRequestError, RequestTimeoutError } from '../errors.js';
import { clearDeadline, DeadlineCancellation, watchDeadline } from '../upstream/deadlines.js';

const READ = Symbol('ledgerproxy.bodyRead');

type ReadingRequest = IncomingMessage & { [READ]?: BodyRead | undefined };

/** Who waits for a body: told exactly once, by one of the two. */
export interface BodySink {
  bodyIn(body: Buffer): void;
  bodyFailed(err: Error): void;
}

/** A body being read; cancelled (as a DeadlineCancellation) when the whole body is not in by `at`. */
class BodyRead extends DeadlineCancellation {
  first: Buffer | undefined = undefined;
  /** Chunks after the first (most bodies come in one). */
  more: Buffer[] | undefined = undefined;
  size = 0;

  constructor(
    readonly req: ReadingRequest,
    readonly maxBytes: number,
    /** performance.now() by which the whole body must have come. */
    deadline: number,
    readonly sink: BodySink,
  ) {
    super(deadline);
    this.listen(this);
  }

  /** The deadline passed (the shared timer, or already past when the read began). */
  cancelled(): void {
    finish(this, new RequestTimeoutError('request body not received in time'));
  }
}

export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => readBodyInto(req, maxBytes, performance.now() + timeoutMs, new PromiseSink(resolve, reject)));
}

class PromiseSink implements BodySink {
  constructor(
    readonly bodyIn: (body: Buffer) => void,
    readonly bodyFailed: (err: Error) => void,
  ) {}
}

/**
 * Reads the body and tells `sink` once (from the request's events, or at once when `deadline`,
 * performance.now() based, has already passed: the request's own deadline, given as it is rather
 * than as milliseconds left that are added back to a second clock reading). A declared
 * Content-Length over the bound throws here instead, before anything is registered; the sink is
 * then never told.
 */
export function readBodyInto(req: IncomingMessage, maxBytes: number, deadline: number, sink: BodySink): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && declaredOver(declared, maxBytes)) {
    throw new BodyTooLargeError(`request body of ${declared} bytes exceeds the limit of ${maxBytes}`);
  }
  const read = new BodyRead(req, maxBytes, deadline, sink);
  (req as ReadingRequest)[READ] = read;
  // No 'aborted' listener: since Node 16 a request whose client goes away mid-body is destroyed with
  // an ECONNRESET 'aborted' error, emitted as 'error' when it has a listener (ours), so one
  // listener fewer to add on every request.
  req.on('data', onData).on('end', onEnd).on('error', onError);
  watchDeadline(read);
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

function onError(this: ReadingRequest, err: NodeJS.ErrnoException): void {
  const read = this[READ];
  if (read === undefined) return;
  const aborted = err.code === 'ECONNRESET';
  finish(read, new InvalidRequestError(aborted ? 'client aborted the request' : `request body could not be read: ${err.message}`));
}

function finish(read: BodyRead, err?: Error): void {
  const req = read.req;
  // Set, not deleted: a delete would turn the request object into a slow dictionary.
  req[READ] = undefined;
  clearDeadline(read);
  // A body read whole leaves the listeners in place: with READ unset they return at once, and the
  // request is garbage with its response. Removing four listeners cost ~2-3k instructions a
  // request in callgrind (removeListener walks the stream's event table through megamorphic
  // loads), every hit and miss; and the 'error' listener left means a late error on the request
  // is absorbed, never an unhandled error event. A refused read (rare) detaches them.
  if (err) {
    req.off('data', onData).off('end', onEnd).off('error', onError);
    req.pause();
    read.sink.bodyFailed(err);
    return;
  }
  if (read.more === undefined) read.sink.bodyIn(read.first ?? Buffer.alloc(0));
  else read.sink.bodyIn(Buffer.concat([read.first as Buffer, ...read.more], read.size));
}
