// Cancellation on the buffered upstream path: whether a call (or one attempt of it) was cancelled,
// why, and one direct listener slot for whatever waits on it right now — an undici exchange's
// abort, a hedge race's attempts, a backoff sleep. It stands in for AbortController/AbortSignal
// there: an AbortSignal is an EventTarget, and every use cost an object graph, a listener record,
// an event dispatch and a removeEventListener; a miss made three of them for a request that was
// never cancelled. One listener at a time is all these uses need: a call is sleeping, racing or
// sending, never two at once, and each attempt of a race has its own Cancellation.

/** Whoever waits on a Cancellation (an object, so a class can listen without a bound closure). */
export interface CancelListener {
  cancelled(reason: unknown): void;
}

export class Cancellation {
  aborted = false;
  reason: unknown = undefined;
  private listener: CancelListener | undefined = undefined;

  /** Cancels once (later calls change nothing) and tells the listener, if any. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.cancelled(reason);
  }

  /**
   * `l` is told when this is cancelled — not if it already is (check `aborted` first). A second
   * listener while one is set is a bug in the caller: it would silently steal the first one's
   * wake-up, so it throws.
   */
  listen(l: CancelListener): void {
    if (this.listener !== undefined && this.listener !== l) throw new Error('a Cancellation has one listener at a time');
    this.listener = l;
  }

  /** `l` no longer waits (it finished first); another listener is left alone. */
  unlisten(l: CancelListener): void {
    if (this.listener === l) this.listener = undefined;
  }
}

/**
 * A Cancellation that follows an AbortSignal (the head and chain-identity probes pass
 * `AbortSignal.timeout`); `stop()` detaches it once the exchange is over.
 */
export function followSignal(signal: AbortSignal): { cancel: Cancellation; stop(): void } {
  const cancel = new Cancellation();
  if (signal.aborted) {
    cancel.abort(signal.reason);
    return { cancel, stop: () => undefined };
  }
  const onAbort = () => cancel.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return { cancel, stop: () => signal.removeEventListener('abort', onAbort) };
}
