// The contract between the pipeline and the three dialects. A dialect turns one client HTTP request
// into calls, says for each call whether and how it may be cached, how to forward it (optionally
// pinned to a head the proxy chose), and whether a given upstream answer may be stored.
// Dialects are pure: no I/O, no clock, no config beyond what is passed in.
import type { ProxyError } from '../errors.js';

export type DialectName = 'aptos-rest' | 'evm-jsonrpc' | 'neo-jsonrpc';

/**
 * immutable: pinned to a version/block (or a by-hash/by-height lookup): the answer never changes.
 * head:      the answer depends on the latest ledger; keyed by the head the proxy tracks.
 * write:     goes to the primary only, never cached, never retried on another node.
 * uncached:  a read that must not be cached (simulate, pending, sessions, unknown methods).
 */
export type CallClass = 'immutable' | 'head' | 'write' | 'uncached';

/**
 * How long a node may take for this call (upstream timeouts.byClass): fast for view calls and
 * cheap lookups, slow for log queries, traces and whole blocks; unset means normal.
 */
export type TimeoutClass = 'fast' | 'normal' | 'slow';

/** A client request after the body has been read (bounded by server.maxBodyBytes). */
export interface InboundRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** Path without the query string, as the client sent it (not decoded). */
  path: string;
  /** Raw query string without the leading '?', '' when none. */
  query: string;
  /** Lower-case header names (node:http IncomingHttpHeaders). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** What is sent to the upstream node for one call (or one batch of JSON-RPC calls). */
export interface UpstreamPayload {
  method: string;
  /** Path plus query string, e.g. `/v1/view?ledger_version=12`. */
  pathAndQuery: string;
  /** Only the headers that matter for the answer (content-type, accept); the client layer adds the rest. */
  headers: Record<string, string>;
  body?: Buffer;
}

export interface Call {
  cls: CallClass;
  /**
   * Bounded label for metrics and key prefixes: the JSON-RPC method when it is a known one, else
   * 'other'; for REST a route name such as 'view', 'account_resource', 'tx_by_hash', 'other'.
   */
  name: string;
  /**
   * Canonical key material, excluding the version and the JSON-RPC id: for REST method, path,
   * sorted query without ledger_version and cache-busting noise, content-type, accept and the raw
   * body; for JSON-RPC the method and the canonical params text with the block tag removed when
   * the call is a head read that can be forwarded pinned.
   */
  keyMaterial: string;
  /** The pinned version / block number for an immutable call pinned by number. */
  pin?: bigint;
  /**
   * Set by the dialect's classification for a read whose answer a reorg can change: an EVM read
   * pinned by block number, or a latest read forwarded pinned to the head. Within the group's
   * finalityDepth of the head it is unfinalized and gets the short 'unfinalized' TTL. Unset: the
   * pin is final (BFT chains, reads by hash). The pipeline adds no default of its own.
   */
  reorgable?: boolean;
  /** Coalesce identical in-flight calls but never store the answer (Aptos wait_by_hash). */
  coalesceOnly?: boolean;
  /**
   * Set when this call is answered with an error without going upstream (an invalid element of a
   * JSON-RPC batch): the other calls of the batch are still served.
   */
  reject?: ProxyError;
  /**
   * Node-local state this call continues (a Neo iterator session id): it must go to the node that
   * opened the session, found through Dialect.sessionOf, never to another one.
   */
  affinity?: string;
  /** Which upstream timeouts apply (unset: normal). */
  timeoutClass?: TimeoutClass;
  /** Set for REST calls. */
  rest?: RestForward;
  /** Set for JSON-RPC calls. */
  rpc?: RpcForward;
}

export interface RestForward {
  /** The request as the client sent it, minus hop-by-hop and proxy-only headers. */
  payload: UpstreamPayload;
  /**
   * For head reads the dialect can pin (Aptos `?ledger_version=h`): the payload pinned to h. When
   * present, the entry is keyed exactly like the same read pinned to h and is immutable.
   */
  pinnedPayload?: (h: bigint) => UpstreamPayload;
}

export interface RpcForward {
  /** The id exactly as the client sent it (raw JSON text, e.g. `1`, `"abc"`, `null`). */
  idRaw: string;
  /** The method name as sent. */
  method: string;
  /** True for a head read whose block tag can be replaced by a number (EVM `latest` -> `0x...`). */
  canPin: boolean;
  /**
   * The JSON text of this call with the given id (a number the pipeline assigns inside an upstream
   * batch), optionally pinned to block h. Params keep their raw text (big numbers are not rounded).
   */
  body(id: number, pinTo?: bigint): string;
  /**
   * body(id, pinTo) as pieces pushed onto `out`, whose join('') is that text: the calls of an
   * upstream batch are joined into one text at once, with no string of its own per call.
   */
  bodyParts(out: Array<string | number>, id: number, pinTo?: bigint): void;
  /** A call without an `id` member: forwarded, but no answer goes back to the client. */
  notification: boolean;
}

export type ParsedRequest =
  | { kind: 'passthrough'; write: boolean }
  | { kind: 'rest'; call: Call }
  | { kind: 'jsonrpc'; batch: boolean; calls: Call[] };

/** An upstream answer to one call, as far as cacheability is concerned. */
export interface CallAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** REST: the body; JSON-RPC: the raw JSON text of the `result` member (undefined when `error` was returned). */
  body: Buffer;
  /** JSON-RPC only: true when the answer was an `error` object. */
  rpcError?: boolean;
}

/** The light request that asks a node which chain it serves (chain-identity.ts). */
export interface ChainIdentityPoll {
  payload: UpstreamPayload;
  /** The chain's identity as a short string; undefined when the answer does not tell. */
  parse(status: number, body: Buffer): string | undefined;
}

export interface HeadPoll {
  payload: UpstreamPayload;
  /** Extracts the head from a poll answer body; undefined when the answer is not understood. */
  parse(status: number, body: Buffer): bigint | undefined;
}

export interface Dialect {
  readonly name: DialectName;
  readonly kind: 'rest' | 'jsonrpc';
  /**
   * Decided before the body is read: 'parse' buffers the body and calls parse(); 'passthrough'
   * streams the request and the answer (upstream/passthrough.ts: unknown paths, GET on a JSON-RPC
   * endpoint, event streams). `write` says a passthrough request goes to the primary only.
   */
  plan(method: string, path: string): { mode: 'parse' } | { mode: 'passthrough'; write: boolean };
  /** Throws a ProxyError (MalformedJsonError, InvalidRequestError, ...) for bad input. */
  parse(req: InboundRequest, limits: ParseLimits): ParsedRequest;
  /** May this answer be stored? Called only for calls whose class is immutable or head. */
  isCacheable(call: Call, answer: CallAnswer): boolean;
  /**
   * For lookups by hash whose answer can still move in a reorg (an EVM transaction or receipt):
   * the block the answer says it is in, so the pipeline can keep it only briefly while that block
   * is within finalityDepth of the head. Undefined: the answer is as immutable as its class says.
   */
  answerBlock?(call: Call, body: Buffer): bigint | undefined;
  /** The node-local session an answer opened (Neo invoke with iterators), if any. */
  sessionOf?(call: Call, body: Buffer): string | undefined;
  /**
   * Judges a whole upstream answer before it is used: 'bad' when it is not what the API promises
   * (garbage where JSON is due: the node is failing), 'lacks-version' when the node answered but
   * does not hold the version a pinned request asked for (it fell behind or pruned it). `pins` are
   * the pins of the calls in request order (JSON-RPC: element n was sent with id n).
   */
  judge(answer: CallAnswer, pins: ReadonlyArray<bigint | undefined>, request?: UpstreamPayload): 'ok' | 'bad' | 'lacks-version';
  /**
   * What an answer's headers say about the node that sent it: its head (X-Aptos-Ledger-Version)
   * and the oldest version it still holds (X-Aptos-Ledger-Oldest-Version, pruning). Empty when the
   * API says nothing in headers (JSON-RPC).
   */
  nodeFacts(headers: Record<string, string | string[] | undefined>): NodeFacts;
  /**
   * True when this status on a pinned read means "this node pruned that version" (Aptos 410 Gone):
   * another node may still have it, so the read is asked again elsewhere.
   */
  prunedStatus(status: number): boolean;
  /** The headers of an answer worth storing with it: those that describe the data, not the connection. Sorted by name. */
  storableHeaders(headers: Record<string, string | string[] | undefined>): ReadonlyArray<readonly [string, string]>;
  /**
   * True when an immutable call's key is a pure function of the request's bytes, so the hit
   * shortcut may map bytes → key before parsing (REST). False where every request carries its own
   * id in the body (JSON-RPC): the bytes never repeat, remembering them would only cost memory.
   * A dialect that sets it plans a HEAD on a GET route as that GET's read (same key), so the
   * shortcut fingerprints the two alike.
   */
  readonly keyFromRequestBytes: boolean;
  /**
   * The highest version/block this answer shows its client as committed or as the head (a receipt's
   * block, an eth_blockNumber result, a committed transaction's version): feeds the read-your-writes
   * floor. Undefined when it shows none. See seen-versions.ts.
   */
  observe(call: Call, answer: CallAnswer): bigint | undefined;
  /**
   * True when the answer shows a transaction as committed without naming its version (Neo: a
   * verbose getrawtransaction with a blockhash, a found application log). The proxy then asks the
   * answering node for its head before replying, so the client's next latest read is not older.
   */
  minedWithoutHeight?(call: Call, answer: CallAnswer): boolean;
  /** The light request that asks a node for its head. */
  headPoll(): HeadPoll;
  /**
   * The request that asks a node which chain it serves (chain id, network magic); its answer is
   * part of every cache key of the group, learned before the group uses the shared tier.
   */
  chainIdentity(): ChainIdentityPoll;
}

export interface NodeFacts {
  head?: bigint;
  oldest?: bigint;
}

export interface ParseLimits {
  maxJsonDepth: number;
  maxBatchLength: number;
}
