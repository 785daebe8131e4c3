// One upstream exchange whose answer is wanted whole: `pool.dispatch` with a small handler that
// collects the body chunks, instead of `pool.request`, which builds a Readable per answer and reads
// it through an async iterator (a stream, its listeners and a few promises per miss). Behaviour is
// request()'s: the same parsed headers, the same abort reason (the signal's, else undici's
// RequestAbortedError), the same timeouts; and a body over `limit` is refused while it arrives.
import { errors as undiciErrors, util as undiciUtil, type Dispatcher } from 'undici';
import { UpstreamResponseTooLargeError } from '../errors.js';

export interface BufferedRequest {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  signal?: AbortSignal | undefined;
  headersTimeout?: number;
  bodyTimeout?: number;
}

export interface BufferedAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as it came (still gzip when the node sent gzip). */
  body: Buffer;
}

type Abort = (reason?: Error) => void;

export function requestBuffered(pool: Dispatcher, req: BufferedRequest, limit: number, onHeaders?: () => void): Promise<BufferedAnswer> {
  return new Promise((resolve, reject) => {
    let abort: Abort | undefined;
    let reason: Error | undefined;
    let done = false;
    let statusCode = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const signal = req.signal;
    const onAbort = () => {
      reason = (signal?.reason as Error | undefined) ?? new undiciErrors.RequestAbortedError();
      abort?.(reason);
    };
    const finish = (err: Error | undefined, answer?: BufferedAnswer) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(answer as BufferedAnswer);
    };
    if (signal?.aborted) {
      reject((signal.reason as Error | undefined) ?? new undiciErrors.RequestAbortedError());
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a: Abort) {
        if (reason) a(reason);
        else abort = a;
      },
      onHeaders(status: number, rawHeaders: Buffer[]) {
        if (status < 200) return true;
        statusCode = status;
        headers = undiciUtil.parseHeaders(rawHeaders) as Record<string, string | string[] | undefined>;
        onHeaders?.();
        return true;
      },
      onData(chunk: Buffer) {
        size += chunk.length;
        if (size > limit) {
          const tooLarge = new UpstreamResponseTooLargeError(`upstream answer larger than ${limit} bytes`);
          finish(tooLarge);
          abort?.(tooLarge);
          return false;
        }
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        finish(undefined, { statusCode, headers, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
      },
      onError(err: Error) {
        finish(err);
      },
    } as unknown as Dispatcher.DispatchHandler;
    try {
      pool.dispatch(
        {
          path: req.path,
          method: req.method as Dispatcher.HttpMethod,
          headers: req.headers,
          body: req.body ?? null,
          ...(req.headersTimeout !== undefined ? { headersTimeout: req.headersTimeout } : {}),
          ...(req.bodyTimeout !== undefined ? { bodyTimeout: req.bodyTimeout } : {}),
        },
        handler,
      );
    } catch (err) {
      finish(err as Error);
    }
  });
}
