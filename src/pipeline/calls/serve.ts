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
import type { Answer, CallPlan, CallResult } from '../../runtime/types.js';
import { callSteps, refreshSteps } from './table.js';
import type { CallDeps, CallRun, CallSlot, CallStep, FetchMisses, StoreAnswer } from './types.js';

/** One result per plan, in order: an array when every call settled synchronously, else its promise. */
export function serveCalls(plans: readonly CallPlan[], deps: CallDeps): CallResult[] | Promise<CallResult[]> {
  const slots = plans.map(toSlot);
  const run = new StepRun(deps);
  const running = runSteps(callSteps, slots.slice(), run);
  if (running === undefined) return resultsOf(slots, deps.group);
  return running.then(() => resultsOf(slots, deps.group));
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

/** The run every step sees: the request's dependencies, one fixed shape, and the refresh behind SWR. */
class StepRun implements CallRun {
  readonly cache: TieredStore;
  readonly flights: Singleflight<Answer>;
  readonly group: string;
  readonly timeoutMs: number;
  readonly fetch: FetchMisses;
  readonly store: StoreAnswer;

  constructor(deps: CallDeps) {
    this.cache = deps.cache;
    this.flights = deps.flights;
    this.group = deps.group;
    this.timeoutMs = deps.timeoutMs;
    this.fetch = deps.fetch;
    this.store = deps.store;
  }

  refresh(refreshing: CallSlot[]): void {
    // The refresh runs on without this client; a failure there has already settled its flight.
    runSteps(refreshSteps, refreshing, this)?.catch(ignore);
  }
}

function toSlot(plan: CallPlan, index: number): CallSlot {
  return { index, plan };
}

/** Keeps the open calls at the front of the array, in order, and drops the rest. */
function dropSettled(open: CallSlot[]): void {
  let kept = 0;
  for (let i = 0; i < open.length; i++) {
    const slot = open[i] as CallSlot;
    if (slot.result === undefined) open[kept++] = slot;
  }
  open.length = kept;
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
