// The types the pipeline and the cache share: what a call is planned as (key, lifetime, pins),
// what it is answered with, and how each call of a request ended. They live with the runtime so
// that neither pipeline/ nor cache/ has to import the other for them.
import type { CacheEntry } from '../cache/types.js';
import type { Call } from '../dialects/types.js';
import type { ProxyError } from '../errors.js';

export type TtlClass = 'immutable' | 'head' | 'unfinalized';

export interface CallPlan {
  call: Call;
  /** Cache / coalescing key; undefined: bypass (never stored, never coalesced). */
  key?: string;
  /** May the answer be stored (false for coalesce-only calls)? */
  store: boolean;
  ttlMs: number;
  ttlClass?: TtlClass;
  /** The node must have this version. */
  pin?: bigint;
  /** Head the call is forwarded pinned to, when the dialect can pin it. */
  forwardPin?: bigint;
  write: boolean;
  /** Send to the primary (monotonic read the replicas may not have caught up with). */
  strong?: boolean;
  /** Where an older answer to the same read may be found (stale-if-error, stale-while-revalidate). */
  fallbackKey?: string;
  staleIfErrorMs: number;
  /** Latest reads only: serve the previous head's answer while refreshing, if it is this young. */
  staleWhileRevalidateMs: number;
  /** The ledger version / block the answer is for, when the proxy chose it (latest reads). */
  answersFor?: bigint;
  /** The version fallbackKey's answer is for (X-Ledgerproxy-Version of a STALE answer). */
  fallbackVersion?: bigint | undefined;
  /** Only a node whose head is at least this (monotonic reads that cannot be pinned). */
  minHead?: bigint | undefined;
}

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

/** What fetching one call gave: an answer (any status) or the error that stopped it. */
export type Outcome = { ok: true; answer: Answer } | { ok: false; error: ProxyError };

export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'bypass' | 'stale';

/** How one call of a request ended, as written to the client and counted. */
export type CallResult =
  | { cache: CacheResult; answer: Answer }
  | { cache: 'error'; error: ProxyError };

export function answered(answer: Answer): Outcome {
  return { ok: true, answer };
}

export function failed(error: ProxyError): Outcome {
  return { ok: false, error };
}
