// What the call steps share: one slot per call of the request, the dependencies every step gets,
// and the one signature of a step. A step looks at the calls still open (no result yet), settles
// the ones it can by giving them a result, and may leave notes on a slot for a later step
// (the flight it leads or follows, what the node said). No step calls back into an earlier one.
import { asProxyError } from '../../errors.js';
import type { TieredStore } from '../../cache/tiered-store.js';
import type { Leader, Singleflight } from '../../coalesce/singleflight.js';
import type { Answer, CallPlan, CallResult, Outcome } from '../../runtime/types.js';

export interface CallSlot {
  /** Position of the call in the client's request. */
  readonly index: number;
  readonly plan: CallPlan;
  /** The step result; a call with a result is settled and no later step touches it. */
  result?: CallResult;
  /** joinFlight: this call leads the shared flight for its key and must settle or fail it. */
  leader?: Leader<Answer>;
  /** joinFlight: another call leads the flight for this key; this one waits for its answer. */
  flight?: Promise<Answer>;
  /** fetchUpstream: what the node said, settled by staleIfError or storeAndSettle. */
  fetched?: Outcome;
  /** followLeader: the leader's answer was for the leader alone (a Neo session); ask again. */
  refetch?: boolean;
}

/** Fetches answers for the calls that must go upstream, one outcome per plan, in order. */
export type FetchMisses = (plans: CallPlan[]) => Promise<Outcome[]>;

/** Turns a fresh upstream answer into what is shared, storing it when policy allows. */
export type StoreAnswer = (plan: CallPlan, answer: Answer) => Answer;

export interface CallDeps {
  cache: TieredStore;
  flights: Singleflight<Answer>;
  /** Upstream group name (metric label). */
  group: string;
  /** What is left of the request's deadline: how long a follower waits for its leader. */
  timeoutMs: number;
  fetch: FetchMisses;
  store: StoreAnswer;
}

export interface CallRun extends CallDeps {
  /**
   * Runs the refresh steps (fetch, stale-if-error, store) over calls whose client was already
   * answered, without waiting: their results go nowhere, their flights are settled.
   */
  refresh(slots: CallSlot[]): void;
}

/**
 * One step of the call contract, given the calls still open (the serve loop drops the settled ones
 * between steps). A step with nothing to wait for returns nothing and costs no await.
 */
export type CallStep = (open: CallSlot[], run: CallRun) => void | Promise<unknown>;

export function settle(slot: CallSlot, result: CallResult): void {
  slot.result = result;
}

/**
 * One fetch for these slots; `use` gets each slot with its outcome, in order. A fetcher that
 * throws, or leaves a call without an answer, fails those calls with a ProxyError (never an
 * untagged throw into the loop).
 */
export function fetchOutcomes(run: CallRun, slots: readonly CallSlot[], use: (slot: CallSlot, outcome: Outcome) => void): Promise<void> {
  let fetching: Promise<Outcome[]>;
  try {
    fetching = run.fetch(slots.map(planOf));
  } catch (err) {
    fetching = Promise.reject(err);
  }
  return fetching.then(
    (fetched) => {
      for (let n = 0; n < slots.length; n++) use(slots[n] as CallSlot, fetched[n] ?? { ok: false, error: asProxyError(new Error('no answer for call')) });
    },
    (err: unknown) => {
      const error = asProxyError(err);
      for (const slot of slots) use(slot, { ok: false, error });
    },
  );
}

function planOf(slot: CallSlot): CallPlan {
  return slot.plan;
}
