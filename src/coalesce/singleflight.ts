// Identical in-flight calls share one upstream request. The leader registers *before* it
// dispatches (so a follower arriving during the dispatch finds it) and is removed when it settles,
// success or failure, so a failed call is never shared after the fact and the map cannot grow
// without bound. Followers get exactly what the leader got, once: a leader's failure reaches its
// followers as the same error, with no hidden retry storm behind it. A follower's wait is bounded
// by its own deadline; the shared call itself is bounded by the leader's upstream timeouts, and a
// client that disconnects cancels neither.
//
// A herd is hundreds of followers on one flight, all answered in the same turn once the leader
// settles. So a follower that joins with its deadline (joinBounded) waits in the flight itself:
// the flight settles each follower's own promise directly (one hop, not the shared promise and
// then a deadline wrapper), and the deadlines of all its followers share one timer, armed for the
// earliest of them. A timer per follower was a native timer created and cleared 500 times a herd.

import { FlightTable } from './flight-table.js';

export interface Leader<T> {
  settle(value: T): void;
  fail(err: unknown): void;
}

/** A follower waiting in its flight until `at` (performance.now() ms). */
interface Waiter<T> {
  at: number;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
  onTimeout: () => Error;
}

/**
 * Marks the promises joinBounded made: their deadline is the flight's business (see isBounded). A
 * property on the promise, not a WeakSet: that was an ephemeron for the GC per follower.
 */
const BOUNDED = Symbol('boundedByFlight');
type Marked = Promise<unknown> & { [BOUNDED]?: true };

/**
 * One flight. A leader alone (most calls: a batch of 20 new calls leads 20 flights nobody follows)
 * is this object and its map entry: four fields. What followers need (the shared promise, the
 * waiter list, the timer) is one more object, made when the first follower joins. Flights live as
 * long as the node takes to answer, so under load the scavenger copies every one still in flight:
 * each field here is paid again per scavenge. They are held in a FlightTable (flight-table.ts), not a Map.
 */
class Flight<T> implements Leader<T> {
  private waits: FlightWaits<T> | undefined = undefined;
  private over = false;

  constructor(private readonly flights: FlightTable<Flight<T>>, private readonly key: string) {}

  joined(): Promise<T> {
    return (this.waits ??= new FlightWaits<T>()).shared();
  }

  /** A follower's own promise: the leader's value or error, or onTimeout() once `at` has passed. */
  joinedUntil(at: number, onTimeout: () => Error): Promise<T> {
    return (this.waits ??= new FlightWaits<T>()).until(at, onTimeout);
  }

  settle(value: T): void {
    if (this.over) return;
    this.done();
    this.waits?.settle(value);
  }

  fail(err: unknown): void {
    if (this.over) return;
    this.done();
    this.waits?.fail(err);
  }

  private done(): void {
    this.over = true;
    this.flights.deleteIf(this.key, this);
  }
}

/** The followers of one flight: the shared promise (join) and the bounded waiters (joinBounded) with their one timer. */
class FlightWaits<T> {
  private promise: Promise<T> | undefined = undefined;
  private resolve: ((v: T) => void) | undefined = undefined;
  private reject: ((e: unknown) => void) | undefined = undefined;
  private waiters: Waiter<T>[] | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** The time the timer is armed for; Infinity when it is not armed. */
  private armedAt = Infinity;

  shared(): Promise<T> {
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

  until(at: number, onTimeout: () => Error): Promise<T> {
    let waiter!: Waiter<T>;
    const p = new Promise<T>((resolve, reject) => {
      waiter = { at, resolve, reject, onTimeout };
    });
    // Same reason as in shared(): the follower may be answered otherwise before it waits.
    p.catch(ignore);
    (p as Marked)[BOUNDED] = true;
    if (at <= performance.now()) {
      waiter.reject(onTimeout());
      return p;
    }
    (this.waiters ??= []).push(waiter);
    if (at < this.armedAt) this.arm(at);
    return p;
  }

  settle(value: T): void {
    this.disarm();
    this.resolve?.(value);
    const waiters = this.waiters;
    if (waiters !== undefined) for (let i = 0; i < waiters.length; i++) (waiters[i] as Waiter<T>).resolve(value);
  }

  fail(err: unknown): void {
    this.disarm();
    this.reject?.(err);
    const waiters = this.waiters;
    if (waiters !== undefined) for (let i = 0; i < waiters.length; i++) (waiters[i] as Waiter<T>).reject(err);
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(at - performance.now())));
  }

  /** The earliest deadline has come: those followers give up (the flight goes on), the timer moves on. */
  private expire(): void {
    // A timer may run a little before performance.now() reaches its time (libuv's clock is the
    // loop's, cached per turn): the time it stood for has come all the same.
    const due = Math.max(this.armedAt, performance.now());
    this.timer = undefined;
    this.armedAt = Infinity;
    const waiters = this.waiters ?? [];
    let kept = 0;
    let next = Infinity;
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i] as Waiter<T>;
      if (w.at <= due) {
        w.reject(w.onTimeout());
        continue;
      }
      waiters[kept++] = w;
      if (w.at < next) next = w.at;
    }
    waiters.length = kept;
    if (next !== Infinity) this.arm(next);
  }
}

export class Singleflight<T> {
  private readonly flights = new FlightTable<Flight<T>>();

  get size(): number {
    return this.flights.size;
  }

  /** The in-flight call for key, if any; joining counts the caller as a follower. */
  join(key: string): Promise<T> | undefined {
    return this.flights.get(key)?.joined();
  }

  /**
   * As join, bounded by the follower's own deadline: the promise rejects with onTimeout() when the
   * flight has not settled `ms` from now (the flight itself goes on). isBounded() tells it is.
   */
  joinBounded(key: string, ms: number, onTimeout: () => Error): Promise<T> | undefined {
    return this.flights.get(key)?.joinedUntil(performance.now() + ms, onTimeout);
  }

  /** Registers the caller as the leader for key. The caller must settle or fail it. */
  lead(key: string): Leader<T> {
    const flight = new Flight<T>(this.flights, key);
    this.flights.set(key, flight);
    return flight;
  }
}

/** A promise from joinBounded: it carries its own deadline and needs no withDeadline around it. */
export function isBounded(p: Promise<unknown>): boolean {
  return (p as Marked)[BOUNDED] === true;
}

/**
 * Resolves with p, or rejects with onTimeout() after ms; the timer is always cleared. Written as one
 * promise settled by whichever comes first (no race of two promises and a finally).
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

function ignore(): void {}
