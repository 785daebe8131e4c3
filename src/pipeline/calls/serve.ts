// The serve loop: runs the step table over the calls still open, one step after the other, and
// hands back one result per call in the client's order.
//
// Running the table is cheap because the loop does the bookkeeping once, in place: the calls still
// open are one array, compacted after each step (no list per step); a step that settles what it
// can synchronously returns nothing and is not awaited; only a step that returns a promise suspends
// the loop, which resumes at the next step when it resolves (one `then` per asynchronous step, no
// async frame per step); when no step had to wait (every call an L1 hit, or refused) the results
// come back synchronously.
import type { TieredStore } from '../../cache/tiered-store.js';
import type { Singleflight } from '../../coalesce/singleflight.js';
import { asProxyError } from '../../errors.js';
import { countCoalesced } from '../../metrics/metrics.js';
import type { Answer, CallPlan, CallResult, Outcome } from '../../runtime/types.js';
import { callSteps, refreshSteps } from './table.js';
import type { CallDeps, CallRun, CallSlot, CallStep, FetchMisses, StoreAnswer } from './types.js';

/**
 * One result per plan, in order: an array when every call settled synchronously, else its promise.
 * `deps` that already is a StepRun (a request's own run, pipeline/request-run.ts) is the run itself.
 */
export function serveCalls(plans: readonly CallPlan[], deps: CallDeps | StepRun): CallResult[] | Promise<CallResult[]> {
  const run = deps instanceof StepRun ? deps : new DepsRun(deps);
  // One call (nearly every REST request): its slot and its open list are made directly.
  const only = plans.length === 1 ? toSlot(plans[0] as CallPlan, 0) : undefined;
  const slots = only ? [only] : plans.map(toSlot);
  const running = runSteps(callSteps, only ? [only] : slots.slice(), run);
  if (running === undefined) return resultsOf(slots, run.group);
  return running.then(() => resultsOf(slots, run.group));
}

/**
 * Runs steps[from…] over `open` (compacted in place as calls settle). Undefined when it ran to the
 * end synchronously; otherwise a promise for the end.
 */
export function runSteps(steps: readonly CallStep[], open: CallSlot[], run: CallRun, from = 0): Promise<void> | undefined {
  for (let i = from; i < steps.length && open.length > 0; i++) {
    const pending = (steps[i] as CallStep)(open, run);
    if (pending !== undefined) {
      return pending.then(() => {
        dropSettled(open);
        return runSteps(steps, open, run, i + 1);
      });
    }
    dropSettled(open);
  }
  // A leader whose call no step settled would strand its followers until their deadline.
  for (const slot of open) slot.leader?.fail(asProxyError(new Error('call left unanswered')));
  return undefined;
}

/**
 * The run every step sees: the request's dependencies, one fixed shape, and the refresh behind SWR.
 * Its fetch is a method, so a request's run (pipeline/request-run.ts) is one object that is both
 * the run and its fetcher, not a run, a dependencies record and the closures between them.
 */
export abstract class StepRun implements CallRun {
  constructor(
    readonly cache: TieredStore,
    readonly flights: Singleflight<Answer>,
    readonly group: string,
    readonly timeoutMs: number,
    readonly store: StoreAnswer,
  ) {}

  abstract fetch(plans: CallPlan[]): Promise<Outcome[]>;

  refresh(refreshing: CallSlot[]): void {
    // The refresh runs on without this client; a failure there has already settled its flight.
    runSteps(refreshSteps, refreshing, this)?.catch(ignore);
  }
}

/** A run made from a dependencies record (tests, callers without a run of their own). */
class DepsRun extends StepRun {
  private readonly fetchMisses: FetchMisses;

  constructor(deps: CallDeps) {
    super(deps.cache, deps.flights, deps.group, deps.timeoutMs, deps.store);
    this.fetchMisses = deps.fetch;
  }

  fetch(plans: CallPlan[]): Promise<Outcome[]> {
    return this.fetchMisses(plans);
  }
}

/**
 * Every field a step may set is there from the start: one shape for every slot, and no property
 * array allocated when a step first sets leader, fetched or result on it.
 */
function toSlot(plan: CallPlan, index: number): CallSlot {
  return { index, plan, result: undefined, leader: undefined, flight: undefined, fetched: undefined, refetch: undefined };
}

/** Keeps the open calls at the front of the array, in order, and drops the rest. */
function dropSettled(open: CallSlot[]): void {
  let kept = 0;
  for (let i = 0; i < open.length; i++) {
    const slot = open[i] as CallSlot;
    if (slot.result === undefined) open[kept++] = slot;
  }
  // pop(), not `open.length = kept`: setting an array's length goes through a slow runtime call
  // (about 1.4k instructions a miss in callgrind); popping the few settled ones does not.
  while (open.length > kept) open.pop();
}

function resultsOf(slots: readonly CallSlot[], group: string): CallResult[] {
  const results = slots.map(resultOf);
  countCoalesced(group, results);
  return results;
}

function resultOf(slot: CallSlot): CallResult {
  return slot.result ?? { cache: 'error', error: asProxyError(new Error('call left unanswered')) };
}

function ignore(): void {}
