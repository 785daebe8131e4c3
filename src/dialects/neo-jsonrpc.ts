// Neo N3 JSON-RPC. Neo finalises every block (dBFT), so a pinned answer never changes; what
// changes is anything "verbose" that reports `confirmations` / `nextblockhash`, and anything
// read at the current height.
//
// Cache safety: verbose block/transaction answers are keyed by the head (class head), never
// stored as immutable, and getrawtransaction is never immutable (mempool answers); when the verbose flag is not clearly false we assume verbose, because the
// mistake in that direction only costs hits. invokefunction/invokescript answers that hold an
// iterator session (node-local state) are never stored. Unknown methods are writes.
import { InvalidParamsError } from '../errors.js';
import { contentTypeOnly, keptHeaders } from '../response/headers.js';
import { neoChainIdentity } from './chain-identity.js';
import { JsonNumber, type JsonValue } from './json-text.js';
import {
  parseRpcRequest,
  resultObject,
  rpcAnswerCacheable,
  rpcHeadPoll,
  rpcPlan,
  type RpcClassification,
  type RpcParams,
} from './jsonrpc.js';
import { rpcJudge } from './rpc-judge.js';
import type { Call, CallAnswer, Dialect, TimeoutClass } from './types.js';
import { neoMinedWithoutHeight, neoSeenVersion } from './seen-versions.js';

// The method table follows the C# RpcServer (with its ApplicationLogs, StateService and
// TokensTracker plugins) and neo-go's server; README "Neo N3 methods" lists it. Anything not
// listed is a write: primary only, never retried, never cached.

/** Answers that depend on the current height (keyed by the head H, sent only to nodes at ≥ H). */
const HEAD = new Set([
  'invokefunction',
  'invokescript',
  'invokecontractverify',
  'getblockcount',
  'getblockheadercount',
  'getbestblockhash',
  'getnep17balances',
  'getnep11balances',
  'getnep11properties',
  'getcontractstate',
  'getstorage',
  'findstorage',
  'getunclaimedgas',
  'getversion',
  'getcommittee',
  'getnextblockvalidators',
  'getcandidates',
  'getnativecontracts',
  'getstateheight',
]);

/** Reads that must not be stored: node-local (peers, mempool, plugins) or too varied to be worth keying. */
const UNCACHED = new Set([
  'getnep17transfers',
  'getnep11transfers',
  'getpeers',
  'getconnectioncount',
  'getrawmempool',
  'getrawnotarypool',
  'getrawnotarypooltransactions',
  'validateaddress',
  'calculatenetworkfee',
  'listplugins',
]);

/**
 * Reads of the state at a given block, named by the first parameter: a block index (pinned: the
 * node must have that height) or a block / state-root hash (immutable by hash).
 */
const HISTORIC = new Set([
  'invokefunctionhistoric',
  'invokescripthistoric',
  'invokecontractverifyhistoric',
  'getstoragehistoric',
  'findstoragehistoric',
]);

/** Answers named by a state root hash (StateService): the root fixes the answer. */
const BY_STATE_ROOT = new Set(['getproof', 'verifyproof', 'getstate', 'findstates']);

/**
 * Lookups whose found answer never changes; "not found yet" is an error (never stored). A
 * transaction in the mempool has no height and no application log, so an error answers it.
 */
const IMMUTABLE = new Set(['getapplicationlog', 'gettransactionheight', 'getblocknotifications']);

/** Block reads with a required block index as their first parameter. */
const BY_INDEX = new Set(['getblockhash', 'getstateroot', 'getblocksysfee']);

const BLOCK_READS = new Set(['getblock', 'getblockheader']);
/** Invocations that may open an iterator session (node-local state: never stored). */
const INVOKES = new Set(['invokefunction', 'invokescript', 'invokecontractverify', 'invokefunctionhistoric', 'invokescripthistoric', 'invokecontractverifyhistoric']);
const KNOWN_WRITES = ['sendrawtransaction', 'submitblock', 'submitoracleresponse', 'submitnotaryrequest'];
/** Continue an iterator session: only the node that opened it knows it. */
const SESSION_CALLS = new Set(['traverseiterator', 'terminatesession']);
const KNOWN = new Set([
  ...HEAD,
  ...UNCACHED,
  ...HISTORIC,
  ...BY_STATE_ROOT,
  ...IMMUTABLE,
  ...BY_INDEX,
  ...BLOCK_READS,
  'getrawtransaction',
  ...KNOWN_WRITES,
  ...SESSION_CALLS,
]);

/** Every method the dialect knows, for the README table and its test. */
export const NEO_METHODS: ReadonlySet<string> = KNOWN;

const U32_MAX = 0xffff_ffffn;

/** Upstream timeout classes (timeouts.byClass); the rest are normal. */
const TIMEOUT_CLASS = new Map<string, TimeoutClass>([
  ...['invokefunction', 'invokescript', 'getnep17balances', 'getblockcount', 'getversion', 'getblockhash'].map((m) => [m, 'fast'] as const),
  ...['getblock', 'getapplicationlog', 'getnep17transfers'].map((m) => [m, 'slow'] as const),
]);

const timeoutClass = (method: string): TimeoutClass | undefined => TIMEOUT_CLASS.get(method);

function classify(method: string, params: RpcParams | undefined): RpcClassification {
  if (HEAD.has(method)) return { cls: 'head' };
  if (UNCACHED.has(method)) return { cls: 'uncached' };
  if (BLOCK_READS.has(method)) return classifyBlock(positional(params));
  if (HISTORIC.has(method)) return classifyHistoric(positional(params)[0]);
  if (BY_STATE_ROOT.has(method) || IMMUTABLE.has(method)) return { cls: 'immutable' };
  if (BY_INDEX.has(method)) return { cls: 'immutable', pin: blockIndex(positional(params)[0]) ?? invalid('block index expected') };
  if (SESSION_CALLS.has(method)) {
    const session = positional(params)[0];
    return typeof session === 'string' ? { cls: 'uncached', affinity: session } : invalid('session id expected');
  }
  // Non-verbose too: a mempool transaction is answered as well, and it may expire unconfirmed, so
  // no form of getrawtransaction is immutable (the raw bytes do not say whether it is in a block).
  if (method === 'getrawtransaction') return { cls: 'head' };
  return { cls: 'write' };
}

/**
 * getblock / getblockheader (index or hash, verbose). Verbose answers carry `confirmations` and
 * `nextblockhash`, so they are keyed by the head; by index they still need a node that has the
 * block (pin), or a replica one block behind answers -101 Unknown block.
 */
function classifyBlock(list: JsonValue[]): RpcClassification {
  const key = list[0];
  if (typeof key !== 'string' && !(key instanceof JsonNumber)) invalid('block index or hash expected');
  const index = blockIndex(key);
  const cls = isVerbose(list[1]) ? 'head' : 'immutable';
  return index === undefined ? { cls } : { cls, pin: index };
}

/** *historic: by index pinned to that height, by block or state-root hash immutable as it is. */
function classifyHistoric(ref: JsonValue | undefined): RpcClassification {
  const index = blockIndex(ref);
  if (index !== undefined) return { cls: 'immutable', pin: index };
  if (typeof ref === 'string' && /^(0x)?[0-9a-fA-F]{64}$/.test(ref)) return { cls: 'immutable' };
  return invalid('block index, block hash or state root expected');
}

function positional(params: RpcParams | undefined): JsonValue[] {
  if (params === undefined) return [];
  if (!Array.isArray(params)) invalid('params must be an array');
  return params;
}

/** A block index as a number or a decimal string (Neo accepts both); undefined for anything else. */
function blockIndex(v: JsonValue | undefined): bigint | undefined {
  let n: bigint | undefined;
  if (v instanceof JsonNumber) n = v.toBigInt();
  else if (typeof v === 'string' && /^\d{1,10}$/.test(v)) n = BigInt(v);
  return n !== undefined && n >= 0n && n <= U32_MAX ? n : undefined;
}

/** Verbose unless clearly not: absent, false, null or the number 0 (any doubt errs on verbose). */
function isVerbose(v: JsonValue | undefined): boolean {
  if (v === undefined || v === null || v === false) return false;
  return !(v instanceof JsonNumber && v.raw === '0');
}

function invalid(message: string): never {
  throw new InvalidParamsError(message);
}

function isCacheable(call: Call, answer: CallAnswer): boolean {
  if (!rpcAnswerCacheable(answer)) return false;
  if (call.rpc !== undefined && INVOKES.has(call.rpc.method)) return !holdsSession(answer.body);
  return true;
}

function sessionOf(call: Call, body: Buffer): string | undefined {
  if (call.rpc === undefined || !INVOKES.has(call.rpc.method)) return undefined;
  const session = resultObject(body)?.session;
  return typeof session === 'string' ? session : undefined;
}

/** An iterator session or an InteropInterface on the stack lives in one node's memory. */
function holdsSession(result: Buffer): boolean {
  const r = resultObject(result);
  if (r === undefined) return true; // not understood: do not store
  return 'session' in r || containsInterop(r.stack);
}

/**
 * Iterative on purpose: a node can nest stack items deeper than the call stack allows (a
 * recursive walk threw RangeError there). Compound items (Array, Struct, Map entries) nest
 * further items under value/key; every value is visited once.
 */
function containsInterop(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const v = pending.pop();
    // One by one: spreading a huge array into push() can itself throw RangeError.
    if (Array.isArray(v)) for (const x of v) pending.push(x);
    else if (typeof v === 'object' && v !== null) {
      const item = v as Record<string, unknown>;
      if (item.type === 'InteropInterface') return true;
      for (const x of Object.values(item)) pending.push(x);
    }
  }
  return false;
}

/** getblockcount answers the number of blocks; the head is the last index. */
function headFromBlockCount(result: JsonValue): bigint | undefined {
  const count = result instanceof JsonNumber ? result.toBigInt() : undefined;
  return count !== undefined && count >= 1n ? count - 1n : undefined;
}

export const neoJsonRpc: Dialect = {
  name: 'neo-jsonrpc',
  kind: 'jsonrpc',
  plan: (method) => rpcPlan(method),
  parse: (req, limits) => parseRpcRequest(req.body, limits, { knownMethods: KNOWN, classify, timeoutClass }),
  isCacheable,
  judge: rpcJudge,
  sessionOf,
  nodeFacts: () => ({}),
  prunedStatus: () => false,
  // A JSON-RPC entry is the raw `result`; the envelope and its headers are the proxy's own.
  storableHeaders: (headers) => keptHeaders(headers, contentTypeOnly),
  keyFromRequestBytes: false,
  observe: (call, answer) => neoSeenVersion(call, answer),
  minedWithoutHeight: neoMinedWithoutHeight,
  headPoll: () => rpcHeadPoll('getblockcount', headFromBlockCount),
  chainIdentity: neoChainIdentity,
};
