// For one call: which version it answers for, under which key, for how long it may be kept, and
// what exactly is sent upstream. This is where cache safety is decided, so the rules are spelled
// out:
// - a read pinned to a version (or a by-hash lookup) is immutable, except a read the dialect marked
//   reorgable (EVM: pinned by number, or forwarded pinned to the head) within finalityDepth of the
//   head, which may still reorg and gets the short TTL;
// - a latest read is keyed by the route's head snapshot H; when the dialect can say so it is also
//   *sent* pinned to H, so every replica answers for the same version and the key is shared with
//   explicit reads pinned to H; otherwise H is only part of the key (Neo invokefunction);
// - the head is never below the read-your-writes floor, and a head nothing confirmed recently is
//   not served from (src/runtime/latest-head.ts);
// - while no head is known yet, a latest read is not cached (there is no version to key it by);
// - writes and uncached reads have no key at all: never stored, never coalesced.
import { cacheKeyOf } from '../cache/key.js';
import { FETCH_GENERATION } from '../cache/tiered-store.js';
import type { Call } from '../dialects/types.js';
import type { RouteRuntime } from '../runtime/runtime.js';
import type { CallPlan, TtlClass } from '../runtime/types.js';
import { latestHead, type LatestHead } from '../runtime/latest-head.js';

export interface PlanOptions {
  /** X-Read-Consistency: strong. */
  strong?: boolean;
  /** X-Min-Ledger-Version on a route with monotonicReads: never answer for an older version. */
  minVersion?: bigint;
}

/** `now` is a monotonic clock (performance.now()): the head snapshot ages by it. */
export function planCall(call: Call, route: RouteRuntime, now: number, opts: PlanOptions = {}): CallPlan {
  return planWith(call, route, new RequestHead(route, now, opts.minVersion), opts);
}

/**
 * One request's calls, planned with one clock reading and one latest head: the head (the group
 * head is a loop over the nodes, each asking its breaker the time) is worked out once, for the
 * first latest read among them. Nothing can move the head or the read-your-writes floor between
 * the calls: they are planned in one synchronous loop, and the next request plans anew.
 */
export function planCalls(calls: readonly Call[], route: RouteRuntime, now: number, opts: PlanOptions = {}): CallPlan[] {
  const head = new RequestHead(route, now, opts.minVersion);
  const plans: CallPlan[] = [];
  for (const call of calls) plans.push(planWith(call, route, head, opts));
  return plans;
}

/**
 * `strong` (X-Read-Consistency: strong) sends the read to the primary as the client wrote it: a
 * latest read then bypasses the cache, since a head snapshot is exactly what it asked not to get.
 */
function planWith(call: Call, route: RouteRuntime, head: RequestHead, opts: PlanOptions): CallPlan {
  const write = call.cls === 'write';
  const base = new Plan(call, write);
  if (call.reject || write || call.cls === 'uncached') return base;
  const cacheOn = route.config.cache.enabled;
  if (call.cls === 'immutable') return planPinned(base, route, cacheOn);
  if (opts.strong) return base;
  return planHead(base, route, cacheOn, head);
}

/** The latest head of one request's calls, worked out when a latest read first asks for it. */
class RequestHead {
  private made: LatestHead | undefined = undefined;
  /** The group head (ReplicaSet.head) as it was when `latest` was made. */
  groupHead: bigint | undefined = undefined;

  constructor(
    private readonly route: RouteRuntime,
    private readonly now: number,
    readonly minVersion: bigint | undefined,
  ) {}

  get latest(): LatestHead {
    if (this.made === undefined) {
      this.groupHead = this.route.group.set.head;
      this.made = latestHead(this.route, this.now, this.minVersion);
    }
    return this.made;
  }
}

/** Marks a plan whose fallback is its own key (a pinned read: its own entry kept past its life). */
const OWN_KEY = '';

/**
 * One call's plan, every field present from the start (one shape for every plan the steps read).
 * The fallback key is only needed to serve stale (stale-if-error, stale-while-revalidate, and the
 * version header of a STALE answer), so it is hashed when first asked for, not for every latest
 * read: with the group and chain as they were when the plan was made, so it is the key eager
 * hashing would have given.
 */
class Plan implements CallPlan {
  key: string | undefined = undefined;
  store = false;
  ttlMs = 0;
  ttlClass: TtlClass | undefined = undefined;
  pin: bigint | undefined = undefined;
  forwardPin: bigint | undefined = undefined;
  strong: boolean | undefined = undefined;
  staleIfErrorMs = 0;
  staleWhileRevalidateMs = 0;
  answersFor: bigint | undefined = undefined;
  fallbackVersion: bigint | undefined = undefined;
  minHead: bigint | undefined = undefined;
  /** The purge generation its fetch began in (cache/tiered-store.ts), declared so it is in the object. */
  [FETCH_GENERATION]: number | undefined = undefined;
  /** The version the fallback key is made with ('v:41', 'h:41'), OWN_KEY, or undefined: none. */
  private fallbackTag: string | undefined = undefined;
  private fallbackGroup = '';
  private fallbackChain: string | undefined = undefined;
  private fallbackMemo: string | undefined = undefined;

  constructor(readonly call: Call, readonly write: boolean) {}

  get fallbackKey(): string | undefined {
    const tag = this.fallbackTag;
    if (tag === undefined || tag === OWN_KEY) return tag === OWN_KEY ? this.key : undefined;
    return (this.fallbackMemo ??= keyOf(this.fallbackGroup, this.fallbackChain, this.call, tag));
  }

  /** The fallback is the answer keyed by this version of the same read (hashed when first asked for). */
  fallBackTo(route: RouteRuntime, version: string | undefined): void {
    this.fallbackTag = version;
    this.fallbackGroup = route.group.name;
    this.fallbackChain = route.group.chain.id;
  }

  fallBackToOwnKey(): void {
    this.fallbackTag = OWN_KEY;
  }
}

// The plan planCall made is filled in place (it is this call's own object): no copies per call,
// which a batch of 20 would make 60 of.
function planPinned(plan: Plan, route: RouteRuntime, cacheOn: boolean): CallPlan {
  const { call } = plan;
  const ttlClass = isUnfinalized(call.pin, call.reorgable, route) ? 'unfinalized' : 'immutable';
  const version = call.pin === undefined ? 'i' : `v:${call.pin}`;
  plan.pin = call.pin;
  finish(plan, route, version, ttlClass, cacheOn);
  plan.fallBackToOwnKey();
  plan.staleIfErrorMs = route.config.cache.staleIfErrorMs;
  return plan;
}

function planHead(plan: Plan, route: RouteRuntime, cacheOn: boolean, requestHead: RequestHead): CallPlan {
  const { call } = plan;
  const { minVersion } = requestHead;
  const canPin = call.rest?.pinnedPayload !== undefined || call.rpc?.canPin === true;
  const latest = requestHead.latest;
  const prefix = canPin ? 'v' : 'h';
  // Frozen head (nothing confirmed it within the bound): ask a node as the client wrote it; its
  // last answer is only a stale-if-error fallback.
  if (latest.frozen) {
    plan.minHead = minVersion;
    plan.fallBackTo(route, `${prefix}:${latest.head}`);
    plan.staleIfErrorMs = route.config.cache.staleIfErrorMs;
    return plan;
  }
  const head = monotonicHead(latest.head, latest.tracked, minVersion, canPin);
  if (head === undefined) {
    plan.strong = minVersion !== undefined;
    return plan;
  }
  if (canPin) {
    plan.pin = head;
    plan.forwardPin = head;
    // Pinned to H it is the same read as an explicit pin to H, and ages like one.
    finish(plan, route, versionTag('v', head), isUnfinalized(head, call.reorgable, route, requestHead.groupHead) ? 'unfinalized' : 'immutable', cacheOn);
  } else {
    // Not sendable pinned (Neo invokefunction, verbose getblock): keyed by H, so only a node at ≥ H
    // (and at the block a by-index read names) may answer it; with monotonic reads, one at ≥ V.
    plan.pin = headPin(head, call.pin);
    plan.minHead = minVersion;
    finish(plan, route, versionTag('h', head), 'head', cacheOn);
  }
  const previous = latest.previous;
  plan.fallBackTo(route, previous === undefined ? undefined : versionTag(prefix, previous));
  plan.fallbackVersion = previous;
  plan.staleIfErrorMs = route.config.cache.staleIfErrorMs;
  plan.staleWhileRevalidateMs = latest.previousServable ? route.config.cache.staleWhileRevalidateMs : 0;
  plan.answersFor = head;
  return plan;
}

/**
 * `v:41`, `h:41`: the version part of a key. The calls of a batch, and every request between two
 * heads, ask for the same few: the last ones are kept, not a BigInt printed per call.
 */
const versionTags = { v: new Map<bigint, string>(), h: new Map<bigint, string>() };
const MAX_TAGS = 8;

function versionTag(prefix: 'v' | 'h', version: bigint): string {
  const tags = versionTags[prefix];
  let tag = tags.get(version);
  if (tag === undefined) {
    if (tags.size >= MAX_TAGS) tags.clear();
    tags.set(version, (tag = `${prefix}:${version}`));
  }
  return tag;
}

/**
 * Monotonic reads: a client that has seen version V must not get an older answer. A snapshot below
 * V is replaced by the tracked head when that is ≥ V, or — where the read can be pinned — by V
 * itself (sent only to a node that has it). A read that cannot be pinned and whose V the proxy has
 * not seen yet gets no version at all: it goes uncached to the primary.
 */
function monotonicHead(snapshot: bigint | undefined, tracked: bigint | undefined, minVersion: bigint | undefined, canPin: boolean): bigint | undefined {
  if (minVersion === undefined || (snapshot !== undefined && snapshot >= minVersion)) return snapshot;
  if (tracked !== undefined && tracked >= minVersion) return tracked;
  return canPin ? minVersion : undefined;
}

function finish(plan: CallPlan, route: RouteRuntime, version: string, ttlClass: TtlClass, cacheOn: boolean): void {
  const { call } = plan;
  plan.key = keyOf(route.group.name, route.group.chain.id, call, version);
  plan.ttlMs = route.config.cache.ttlMs[ttlClass];
  plan.store = cacheOn && !call.coalesceOnly && plan.ttlMs > 0;
  plan.ttlClass = ttlClass;
}

function keyOf(group: string, chain: string | undefined, call: Call, version: string): string {
  return cacheKeyOf(group, call.name, call.keyMaterial, version, chain);
}

/** The height a node needs for a head read keyed by H that names its own block (or none). */
function headPin(head: bigint, own: bigint | undefined): bigint {
  return own !== undefined && own > head ? own : head;
}

/**
 * A read pinned by number is unfinalized while it is within finalityDepth of the head (`groupHead`:
 * the group's head when the caller has read it already).
 */
function isUnfinalized(pin: bigint | undefined, reorgable: boolean | undefined, route: RouteRuntime, groupHead = route.group.set.head): boolean {
  if (!reorgable || pin === undefined || route.group.finalityDepth === 0n) return false;
  const head = groupHead;
  // No head known yet: we cannot tell how deep the block is, so assume the worst.
  if (head === undefined) return true;
  return pin > head - route.group.finalityDepth;
}
