// The cache-and-coalesce stage, shared by REST (one call) and JSON-RPC (one or many calls):
//   L1 (sync) ─ hit ─▶ done
//   in-flight call with the same key ─▶ follow it (COALESCED)
//   otherwise lead: register first, then L2, then upstream (all misses of a batch in one request)
// The leader is registered in the same synchronous step as the L1 miss, so there is no window in
// which a second request can miss both the cache and the flight and call the node again.
import type { CacheEntry } from '../cache/types.js';
import type { TieredStore } from '../cache/tiered-store.js';
import { type Leader, Singleflight, withDeadline } from '../coalesce/singleflight.js';
import { asProxyError, type ProxyError, UpstreamTimeoutError } from '../errors.js';
import { countCoalesced } from '../metrics/metrics.js';
import type { CallPlan } from './plan-call.js';
import { staleForError, staleWhileRevalidate } from './stale.js';
import { isNodeFailureStatus } from '../upstream/health.js';

/** What one call resolves to; shared between a leader and its followers. */
export interface Answer {
  entry: CacheEntry;
  /** JSON-RPC: entry.body is the raw `error` object the node sent. */
  rpcError?: boolean;
  /** Node that answered (for logs); undefined for cache hits. */
  node?: string;
  /** The upstream answer may be stored (decided by the fetcher with the dialect's rules). */
  cacheable?: boolean;
  /** Shorter lifetime than the plan's, decided from the answer (a transaction in an unfinalized block). */
  ttlMs?: number;
  /**
   * The answer opened node-local state for its caller (a Neo iterator session): sharing it with a
   * follower would let two clients consume one iterator, so each follower asks for its own.
   */
  exclusive?: boolean;
}

export type CallResult =
  | { cache: 'hit' | 'miss' | 'coalesced' | 'bypass' | 'stale'; answer: Answer }
  | { cache: 'error'; error: ProxyError };

/** Fetches answers for the calls that must go upstream, one result per plan, in order. */
export type FetchMisses = (plans: CallPlan[]) => Promise<Array<Answer | ProxyError>>;

/** Turns a fresh upstream answer into what is shared, storing it when policy allows. */
export type StoreAnswer = (plan: CallPlan, answer: Answer) => Answer;

export interface ServeDeps {
  cache: TieredStore;
  flights: Singleflight<Answer>;
  group: string;
  timeoutMs: number;
}

export async function serveCalls(plans: CallPlan[], deps: ServeDeps, fetchMisses: FetchMisses, store: StoreAnswer): Promise<CallResult[]> {
  const results: Array<CallResult | undefined> = new Array(plans.length);
  const followers: Array<[number, Promise<Answer>]> = [];
  const leaders: Array<[number, Leader<Answer>]> = [];
  const direct: number[] = [];
  plans.forEach((plan, i) => {
    if (plan.call.reject) results[i] = { cache: 'error', error: plan.call.reject };
    else if (plan.key === undefined) direct.push(i);
    else {
      const local = plan.store ? lookupLocal(deps.cache, plan.key) : undefined;
      if (local) results[i] = { cache: 'hit', answer: { entry: local } };
      else {
        const flight = deps.flights.join(plan.key);
        if (flight) followers.push([i, flight]);
        else leaders.push([i, deps.flights.lead(plan.key)]);
      }
    }
  });
  const remoteHits = await lookupRemote(plans, leaders, deps, results);
  const misses = leaders.filter(([i]) => !remoteHits.has(i)).map(([i]) => i);
  const revalidating = serveWhileRevalidating(plans, misses, deps, results);
  // The refresh behind a stale answer runs on without this client; its followers still wait for it.
  if (revalidating.length > 0) void fetchAndSettle(plans, revalidating, leaders, [], fetchMisses, store, deps).catch(() => undefined);
  const toFetch = [...misses.filter((i) => !revalidating.includes(i)), ...direct];
  await fetchAndSettle(plans, toFetch, leaders, results, fetchMisses, store, deps);
  await Promise.all(followers.map(async ([i, flight]) => {
    results[i] = await follow(flight, deps.timeoutMs);
  }));
  await refetchExclusive(plans, results, fetchMisses);
  // Counted once settled: a follower that had to make its own call (exclusive answer) did not coalesce.
  countCoalesced(deps.group, results);
  return results.map((r) => r ?? { cache: 'error', error: asProxyError(new Error('call left unanswered')) });
}

function lookupLocal(cache: TieredStore, key: string): CacheEntry | undefined {
  return cache.memory.getSync(key);
}

/** L2 lookups for the leaders, in parallel; a hit settles the leader (and its followers). */
async function lookupRemote(
  plans: CallPlan[],
  leaders: Array<[number, Leader<Answer>]>,
  deps: ServeDeps,
  results: Array<CallResult | undefined>,
): Promise<Set<number>> {
  const hits = new Set<number>();
  const remote = deps.cache.remote;
  if (!remote) return hits;
  await Promise.all(leaders.map(async ([i, leader]) => {
    const plan = plans[i] as CallPlan;
    if (!plan.store || plan.key === undefined) return;
    const entry = await remote.get(plan.key);
    if (!entry) return;
    deps.cache.memory.setSync(plan.key, entry);
    const answer: Answer = { entry };
    results[i] = { cache: 'hit', answer };
    hits.add(i);
    leader.settle(answer);
  }));
  return hits;
}

/** Latest-read leaders answered now from the previous head's entry; returns their indexes. */
function serveWhileRevalidating(plans: CallPlan[], misses: number[], deps: ServeDeps, results: Array<CallResult | undefined>): number[] {
  const now = Date.now();
  return misses.filter((i) => {
    const entry = staleWhileRevalidate(plans[i] as CallPlan, deps.cache, now);
    if (entry) results[i] = { cache: 'stale', answer: { entry } };
    return entry !== undefined;
  });
}

async function fetchAndSettle(
  plans: CallPlan[],
  indexes: number[],
  leaders: Array<[number, Leader<Answer>]>,
  results: Array<CallResult | undefined>,
  fetchMisses: FetchMisses,
  store: StoreAnswer,
  deps: ServeDeps,
): Promise<void> {
  if (indexes.length === 0) return;
  const leaderOf = new Map(leaders);
  let fetched: Array<Answer | ProxyError>;
  try {
    fetched = await fetchMisses(indexes.map((i) => plans[i] as CallPlan));
  } catch (err) {
    fetched = indexes.map(() => asProxyError(err));
  }
  await Promise.all(indexes.map(async (i, n) => {
    const plan = plans[i] as CallPlan;
    const outcome = fetched[n] ?? asProxyError(new Error('no answer for call'));
    const leader = leaderOf.get(i);
    const failed = !('entry' in outcome) ? outcome.source === 'upstream' : isNodeFailureStatus(outcome.entry.status);
    const stale = failed ? await staleForError(plan, deps.cache, Date.now()) : undefined;
    if (stale) {
      const answer: Answer = { entry: stale };
      results[i] = { cache: 'stale', answer };
      leader?.settle(answer);
    } else if ('entry' in outcome) {
      // Stored before the flight is removed: a request arriving after this sees the entry.
      const shared = store(plan, outcome);
      results[i] = { cache: plan.key === undefined ? 'bypass' : 'miss', answer: shared };
      leader?.settle(shared);
    } else {
      results[i] = { cache: 'error', error: outcome };
      leader?.fail(outcome);
    }
  }));
}

/** Followers that got an answer only its leader may use make their own call, uncoalesced. */
async function refetchExclusive(plans: CallPlan[], results: Array<CallResult | undefined>, fetchMisses: FetchMisses): Promise<void> {
  const redo = results.flatMap((r, i) => (r?.cache === 'coalesced' && r.answer.exclusive ? [i] : []));
  if (redo.length === 0) return;
  let fetched: Array<Answer | ProxyError>;
  try {
    fetched = await fetchMisses(redo.map((i) => plans[i] as CallPlan));
  } catch (err) {
    fetched = redo.map(() => asProxyError(err));
  }
  redo.forEach((i, n) => {
    const outcome = fetched[n] ?? asProxyError(new Error('no answer for call'));
    results[i] = 'entry' in outcome ? { cache: 'bypass', answer: outcome } : { cache: 'error', error: outcome };
  });
}

async function follow(flight: Promise<Answer>, timeoutMs: number): Promise<CallResult> {
  try {
    const answer = await withDeadline(flight, timeoutMs, () => new UpstreamTimeoutError('timed out waiting for a shared upstream call'));
    return { cache: 'coalesced', answer };
  } catch (err) {
    return { cache: 'error', error: asProxyError(err) };
  }
}
