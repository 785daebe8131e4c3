// One upstream exchange whose answer is wanted whole: `pool.dispatch` with a small handler that
// collects the body chunks, instead of `pool.request`, which builds a Readable per answer and reads
// it through an async iterator (a stream, its listeners and a few promises per miss). Behaviour is
// request()'s: the same parsed headers, the same abort reason (the cancellation's, else undici's
// RequestAbortedError), the same timeouts; and a body over `limit` is refused while it arrives.
// The handler is one object of a class (its methods on the prototype), which is also the
// cancellation's listener: no closures per exchange beyond the promise's own. What the caller
// makes of the answer (client.ts: decode, count, time) is done by its AnswerTaker inside the
// completion, before the promise settles: the promise is already the caller's, with no async
// level of its own above it (one promise, one await and one microtask fewer per exchange).
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { UpstreamResponseTooLargeError } from '../errors.js';
import type { CancelListener, Cancellation } from './cancel.js';
import { parseRawHeaders } from './raw-headers.js';

export interface BufferedRequest {
  path: string;
  method: string;
  /** A record, or flat (name, value, ...) as undici also takes them (no key walk of an object). */
  headers: Record<string, string> | string[];
  body: Buffer | undefined;
  cancel?: Cancellation | undefined;
  headersTimeout?: number | undefined;
  bodyTimeout?: number | undefined;
}

export interface BufferedAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as it came (still gzip when the node sent gzip). */
  body: Buffer;
  /** performance.now() when the answer headers came in (0: never reported). */
  headersAt: number;
}

type Abort = (reason?: Error) => void;

/**
 * What an exchange's answer becomes, made synchronously when it settles. `took` may throw: the
 * exchange then fails with what `failed` makes of that error. Each exchange calls exactly one of
 * them, once.
 */
export interface AnswerTaker<T> {
  took(answer: BufferedAnswer): T;
  failed(err: unknown): Error;
}

/** The answer as it came (tests, and callers with nothing to add). */
const AS_IS: AnswerTaker<BufferedAnswer> = { took: (answer) => answer, failed: (err) => err as Error };

export function requestBuffered<T = BufferedAnswer>(
  pool: Dispatcher,
  req: BufferedRequest,
  limit: number,
  onHeaders?: () => void,
  taker: AnswerTaker<T> = AS_IS as unknown as AnswerTaker<T>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const cancel = req.cancel;
    if (cancel?.aborted) {
      reject(taker.failed((cancel.reason as Error | undefined) ?? new undiciErrors.RequestAbortedError()));
      return;
    }
    const exchange = new Exchange(resolve, reject, taker, limit, onHeaders, cancel);
    cancel?.listen(exchange);
    try {
      pool.dispatch(
        {
          path: req.path,
          method: req.method as Dispatcher.HttpMethod,
          headers: req.headers,
          body: req.body ?? null,
          // undefined: the pool's own (undici reads these with `!= null`).
          headersTimeout: req.headersTimeout,
          bodyTimeout: req.bodyTimeout,
        },
        exchange as unknown as Dispatcher.DispatchHandler,
      );
    } catch (err) {
      exchange.finish(err as Error);
    }
  });
}

const NO_HEADERS: Record<string, string | string[] | undefined> = Object.freeze({});

/** The undici handler of one exchange (legacy onConnect/onHeaders/... API, as before). */
class Exchange<T> implements CancelListener {
  private abortFn: Abort | undefined;
  private reason: Error | undefined;
  private done = false;
  private statusCode = 0;
  /** Set by onHeaders, which comes before onComplete on every answer (none allocated before it). */
  private headers: Record<string, string | string[] | undefined> = NO_HEADERS;
  private headersAt = 0;
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly resolve: (a: T) => void,
    private readonly reject: (err: Error) => void,
    private readonly taker: AnswerTaker<T>,
    private readonly limit: number,
    private readonly headersIn: (() => void) | undefined,
    private readonly cancel: Cancellation | undefined,
  ) {}

  cancelled(reason: unknown): void {
    this.reason = (reason as Error | undefined) ?? new undiciErrors.RequestAbortedError();
    this.abortFn?.(this.reason);
  }

  finish(err: Error | undefined, answer?: BufferedAnswer): void {
    if (this.done) return;
    this.done = true;
    this.cancel?.unlisten(this);
    if (err) return this.reject(this.taker.failed(err));
    let taken: T;
    try {
      taken = this.taker.took(answer as BufferedAnswer);
    } catch (thrown) {
      return this.reject(this.taker.failed(thrown));
    }
    this.resolve(taken);
  }

  onConnect(a: Abort): void {
    if (this.reason) a(this.reason);
    else this.abortFn = a;
  }

  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    if (status < 200) return true;
    this.statusCode = status;
    // undici's parseHeaders, with the strings of repeated names and values reused (raw-headers.ts).
    this.headers = parseRawHeaders(rawHeaders);
    this.headersAt = performance.now();
    this.headersIn?.();
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.limit) {
      const tooLarge = new UpstreamResponseTooLargeError(`upstream answer larger than ${this.limit} bytes`);
      this.finish(tooLarge);
      this.abortFn?.(tooLarge);
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    const { chunks, size } = this;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
    this.finish(undefined, { statusCode: this.statusCode, headers: this.headers, body, headersAt: this.headersAt });
  }

  onError(err: Error): void {
    this.finish(err);
  }
}
