// Identical in-flight calls share one upstream request. The leader registers *before* it
// dispatches (so a follower arriving during the dispatch finds it) and is removed when it settles,
// success or failure, so a failed call is never shared after the fact and the map cannot grow
// without bound. Followers get exactly what the leader got, once: a leader's failure reaches its
// followers as the same error, with no hidden retry storm behind it. A follower's wait is bounded
// by its own deadline; the shared call itself is bounded by the leader's upstream timeouts, and a
// client that disconnects cancels neither.

export interface Leader<T> {
  settle(value: T): void;
  fail(err: unknown): void;
}

/**
 * One flight. Its promise is made when the first follower joins: most calls are never joined (a
 * batch of 20 new calls leads 20 flights nobody follows), and a leader alone needs no promise.
 */
class Flight<T> implements Leader<T> {
  followers = 0;
  private promise: Promise<T> | undefined;
  private resolve: ((v: T) => void) | undefined;
  private reject: ((e: unknown) => void) | undefined;

  constructor(private readonly flights: Map<string, Flight<T>>, private readonly key: string) {}

  joined(): Promise<T> {
    this.followers++;
    if (this.promise === undefined) {
      this.promise = new Promise<T>((res, rej) => {
        this.resolve = res;
        this.reject = rej;
      });
      // Followers attach their own handlers; this one keeps a failure from being reported as an
      // unhandled rejection when a follower was answered otherwise before it waited.
      this.promise.catch(() => undefined);
    }
    return this.promise;
  }

  settle(value: T): void {
    this.done();
    this.resolve?.(value);
  }

  fail(err: unknown): void {
    this.done();
    this.reject?.(err);
  }

  private done(): void {
    if (this.flights.get(this.key) === this) this.flights.delete(this.key);
  }
}

export class Singleflight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  get size(): number {
    return this.flights.size;
  }

  /** The in-flight call for key, if any; joining counts the caller as a follower. */
  join(key: string): Promise<T> | undefined {
    return this.flights.get(key)?.joined();
  }

  /** Registers the caller as the leader for key. The caller must settle or fail it. */
  lead(key: string): Leader<T> {
    const flight = new Flight<T>(this.flights, key);
    this.flights.set(key, flight);
    return flight;
  }
}

/**
 * Resolves with p, or rejects with onTimeout() after ms; the timer is always cleared. Written as one
 * promise settled by whichever comes first (no race of two promises and a finally): a herd's
 * followers each pass through here once their leader settles, one after the other.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    p.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
