// The request deadline of upstream calls, and of client body reads (pipeline/read-body.ts), without
// a timer per request. Every call in flight that has a deadline, and every body being read, is
// one entry of a min-heap ordered by its time (performance.now() based, as RequestContext.deadline
// is), and one process-wide timer is armed for the earliest. When it fires,
// every entry whose time has come is cancelled with the reason the per-request
// AbortController + setTimeout used ("request deadline"), so what an attempt cut by the deadline
// reports — the error, the `aborted` outcome, passive health left alone, no retry — is unchanged.
// A call that ends first leaves the heap (O(log n)) and touches no timer: the timer is re-armed
// lazily, only when it fires or when an entry earlier than the armed time comes in. Under steady
// load the earliest entry is ~requestTimeoutMs away, so the timer fires about once per timeout,
// against one native timer created and cleared per miss before.
//
// Why not undici's headersTimeout/bodyTimeout = min(class timeout, time left): those do not cover
// the time a request waits for a pool connection or to connect, and bodyTimeout is the silence
// between chunks, not the whole body — a node trickling an answer would outlive the deadline.
import { Cancellation } from './cancel.js';

/** A call's cancellation that also fires at its deadline (`at`, performance.now() ms). */
export class DeadlineCancellation extends Cancellation {
  /** Position in the heap; -1 when not in it (expired, cleared, or never added). */
  index = -1;

  constructor(readonly at: number) {
    super();
  }
}

const heap: DeadlineCancellation[] = [];
let timer: NodeJS.Timeout | undefined;
/** The time the timer is armed for; Infinity when it is not armed. */
let armedAt = Infinity;
/** Timers created so far (tests check that a call does not make one). */
let arms = 0;

/** A cancellation that fires at `at`; already cancelled when `at` has passed. Pair with clearDeadline. */
export function cancelAtDeadline(at: number): DeadlineCancellation {
  const c = new DeadlineCancellation(at);
  watchDeadline(c);
  return c;
}

/**
 * Puts a cancellation made elsewhere (a subclass that is also the record of its work, as a body
 * read is: one object per request instead of two) under the shared timer; cancelled at once when
 * its time has passed. Pair with clearDeadline.
 */
export function watchDeadline(c: DeadlineCancellation): void {
  if (c.index >= 0 || c.aborted) return;
  if (c.at <= performance.now()) {
    c.abort(deadlineReason());
    return;
  }
  c.index = heap.length;
  heap.push(c);
  siftUp(c.index);
  if (c.at < armedAt) arm(c.at);
}

/** The call is over: its deadline no longer matters. */
export function clearDeadline(c: DeadlineCancellation): void {
  const i = c.index;
  if (i < 0) return;
  c.index = -1;
  const last = heap.pop() as DeadlineCancellation;
  if (i === heap.length) return;
  heap[i] = last;
  last.index = i;
  siftDown(i);
  siftUp(last.index);
}

/** Deadlines waiting, and native timers created so far (for tests). */
export function deadlineStats(): { pending: number; timersArmed: number } {
  return { pending: heap.length, timersArmed: arms };
}

function deadlineReason(): Error {
  return new Error('request deadline');
}

function arm(at: number): void {
  if (timer !== undefined) clearTimeout(timer);
  armedAt = at;
  arms++;
  timer = setTimeout(fire, Math.max(1, Math.ceil(at - performance.now())));
  // Only calls in flight and body reads are in the heap, and their sockets keep the process up.
  timer.unref();
}

function fire(): void {
  // The time the timer stood for has come (a timer may run a little before performance.now()
  // reaches it: libuv's clock is the loop's, cached per turn), as a per-request timer's did.
  const due = Math.max(armedAt, performance.now());
  timer = undefined;
  armedAt = Infinity;
  while (heap.length > 0 && (heap[0] as DeadlineCancellation).at <= due) {
    const c = heap[0] as DeadlineCancellation;
    clearDeadline(c);
    c.abort(deadlineReason());
  }
  if (heap.length > 0) arm((heap[0] as DeadlineCancellation).at);
}

function siftUp(i: number): void {
  const c = heap[i] as DeadlineCancellation;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const parent = heap[p] as DeadlineCancellation;
    if (parent.at <= c.at) break;
    heap[i] = parent;
    parent.index = i;
    i = p;
  }
  heap[i] = c;
  c.index = i;
}

function siftDown(i: number): void {
  const c = heap[i] as DeadlineCancellation;
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const child = r < n && (heap[r] as DeadlineCancellation).at < (heap[l] as DeadlineCancellation).at ? r : l;
    const smaller = heap[child] as DeadlineCancellation;
    if (smaller.at >= c.at) break;
    heap[i] = smaller;
    smaller.index = i;
    i = child;
  }
  heap[i] = c;
  c.index = i;
}
