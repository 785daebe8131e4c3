// What a call step's unit test needs: real stores (L1 always, L2 the real Redis when asked), a
// real Singleflight, plans and entries built in one line, and a fetcher that records what it was
// asked and answers from a function the test gives (the step under test never knows).
import { identityEntry } from '../../src/cache/policy.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { RedisStore } from '../../src/cache/redis-store.js';
import { TieredStore } from '../../src/cache/tiered-store.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { Singleflight } from '../../src/coalesce/singleflight.js';
import type { Call } from '../../src/dialects/types.js';
import type { CallRun, CallSlot, StoreAnswer } from '../../src/pipeline/calls/types.js';
import type { Answer, CallPlan, Outcome } from '../../src/runtime/types.js';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export function plan(over: Partial<CallPlan> = {}, call: Partial<Call> = {}): CallPlan {
  return {
    call: { cls: 'immutable', name: 'view', keyMaterial: 'k', ...call },
    store: true, ttlMs: 60_000, write: false, staleIfErrorMs: 0, staleWhileRevalidateMs: 0,
    ...over,
  };
}

/** An entry stored `agoMs` ago that expires in `expiresInMs` (negative: already expired), kept `staleMs` past that. */
export function entry(body: string, opts: { status?: number; agoMs?: number; expiresInMs?: number; staleMs?: number } = {}): CacheEntry {
  const now = Date.now();
  const e = identityEntry(opts.status ?? 200, [['content-type', 'application/json']], Buffer.from(body), now - (opts.agoMs ?? 0));
  const expiresAt = now + (opts.expiresInMs ?? 60_000);
  return { ...e, expiresAt, staleUntil: expiresAt + (opts.staleMs ?? 0) };
}

export function answer(body: string, status = 200, extra: Partial<Answer> = {}): Answer {
  return { entry: identityEntry(status, [], Buffer.from(body), Date.now()), cacheable: true, ...extra };
}

export function slotsOf(...plans: CallPlan[]): CallSlot[] {
  return plans.map((p, index) => ({ index, plan: p }));
}

export interface TestRun extends CallRun {
  /** The plans of each fetch, in order. */
  fetches: CallPlan[][];
  refreshed: CallSlot[][];
  stored: CallPlan[];
}

export function makeRun(opts: {
  answer?: (p: CallPlan) => Outcome;
  fetchThrows?: unknown;
  remote?: RedisStore;
  timeoutMs?: number;
  flights?: Singleflight<Answer>;
} = {}): TestRun {
  const memory = new MemoryStore({ maxBytes: 1 << 20, maxEntryBytes: 1 << 16 });
  const cache = new TieredStore({ memory, remote: opts.remote });
  const fetches: CallPlan[][] = [];
  const refreshed: CallSlot[][] = [];
  const stored: CallPlan[] = [];
  const store: StoreAnswer = (p, a) => {
    stored.push(p);
    return a;
  };
  return {
    cache, flights: opts.flights ?? new Singleflight<Answer>(), group: 'g', timeoutMs: opts.timeoutMs ?? 2_000, store,
    fetch: async (plans) => {
      fetches.push(plans);
      if (opts.fetchThrows !== undefined) throw opts.fetchThrows;
      return plans.map((p) => opts.answer?.(p) ?? { ok: true, answer: answer(`"${p.key ?? 'nokey'}"`) });
    },
    refresh: (slots) => void refreshed.push(slots),
    fetches, refreshed, stored,
  };
}

/** A store on the real Redis, once connected (it keeps no offline queue: earlier commands would be misses). */
export async function redisStore(prefix: string): Promise<RedisStore> {
  const store = new RedisStore({ url: REDIS_URL, prefix, commandTimeoutMs: 500 });
  for (let i = 0; i < 300 && !store.connected; i++) await new Promise((r) => setTimeout(r, 10));
  if (!store.connected) throw new Error(`Redis at ${REDIS_URL} not reachable`);
  return store;
}

export function bodyOf(slot: CallSlot): string | undefined {
  return slot.result && slot.result.cache !== 'error' ? slot.result.answer.entry.body.toString() : undefined;
}
