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

interface Flight<T> {
  promise: Promise<T>;
  followers: number;
}

export class Singleflight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  get size(): number {
    return this.flights.size;
  }

  /** The in-flight call for key, if any; joining counts the caller as a follower. */
  join(key: string): Promise<T> | undefined {
    const flight = this.flights.get(key);
    if (!flight) return undefined;
    flight.followers++;
    return flight.promise;
  }

  /** Registers the caller as the leader for key. The caller must settle or fail it. */
  lead(key: string): Leader<T> {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Followers attach their own handlers; this one keeps a leader-only failure from being reported
    // as an unhandled rejection when nobody followed.
    promise.catch(() => undefined);
    const flight: Flight<T> = { promise, followers: 0 };
    this.flights.set(key, flight);
    const done = () => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    return {
      settle: (value) => { done(); resolve(value); },
      fail: (err) => { done(); reject(err); },
    };
  }
}

/** Resolves with p, or rejects with onTimeout() after ms; the timer is always cleared. */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
