// Neo N3 JSON-RPC. Neo finalises every block (dBFT), so a pinned answer never changes; what
// changes is anything "verbose" that reports `confirmations` / `nextblockhash`, and anything
// read at the current height.
//
// Cache safety: verbose block/transaction answers are keyed by the head (class head), never
// stored as immutable; when the verbose flag is not clearly false we assume verbose, because the
// mistake in that direction only costs hits. invokefunction/invokescript answers that hold an
// iterator session (node-local state) are never stored. Unknown methods are writes.
import { InvalidParamsError } from '../errors.js';
import { JsonNumber, type JsonValue } from './json-text.js';
import {
  parseRpcRequest,
  resultObject,
  rpcAnswerCacheable,
  rpcHeadPoll,
  rpcJudge,
  rpcPlan,
  type RpcClassification,
  type RpcParams,
} from './jsonrpc.js';
import type { Call, CallAnswer, Dialect } from './types.js';

/** Answers that depend on the current height (keyed by the head; no height param to pin). */
const HEAD = new Set([
  'invokefunction',
  'invokescript',
  'getblockcount',
  'getbestblockhash',
  'getnep17balances',
  'getnep11balances',
  'getcontractstate',
  'getstorage',
  'getunclaimedgas',
  'getversion',
]);

/** Reads that must not be stored: node-local (peers, mempool) or too varied to be worth keying. */
const UNCACHED = new Set([
  'getnep17transfers',
  'getnep11transfers',
  'getpeers',
  'getconnectioncount',
  'getrawmempool',
  'validateaddress',
  'calculatenetworkfee',
]);

const BLOCK_READS = new Set(['getblock', 'getblockheader']);
const INVOKES = new Set(['invokefunction', 'invokescript']);
const KNOWN_WRITES = ['sendrawtransaction', 'submitblock'];
/** Continue an iterator session: only the node that opened it knows it. */
const SESSION_CALLS = new Set(['traverseiterator', 'terminatesession']);
const KNOWN = new Set([
  ...HEAD,
  ...UNCACHED,
  ...BLOCK_READS,
  'getrawtransaction',
  'getblockhash',
  'getapplicationlog',
  ...KNOWN_WRITES,
  ...SESSION_CALLS,
]);

const U32_MAX = 0xffff_ffffn;

function classify(method: string, params: RpcParams | undefined): RpcClassification {
  if (HEAD.has(method)) return { cls: 'head' };
  if (UNCACHED.has(method)) return { cls: 'uncached' };
  if (BLOCK_READS.has(method)) return classifyBlock(positional(params));
  if (SESSION_CALLS.has(method)) {
    const session = positional(params)[0];
    return typeof session === 'string' ? { cls: 'uncached', affinity: session } : invalid('session id expected');
  }
  switch (method) {
    case 'getrawtransaction':
      return isVerbose(positional(params)[1]) ? { cls: 'head' } : { cls: 'immutable' };
    case 'getblockhash':
      return { cls: 'immutable', pin: blockIndex(positional(params)[0]) ?? invalid('block index expected') };
    case 'getapplicationlog':
      return { cls: 'immutable' };
  }
  return { cls: 'write' };
}

/** getblock / getblockheader (index or hash, verbose). */
function classifyBlock(list: JsonValue[]): RpcClassification {
  const key = list[0];
  if (typeof key !== 'string' && !(key instanceof JsonNumber)) invalid('block index or hash expected');
  if (isVerbose(list[1])) return { cls: 'head' };
  const index = blockIndex(key);
  return index === undefined ? { cls: 'immutable' } : { cls: 'immutable', pin: index };
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
  parse: (req, limits) => parseRpcRequest(req.body, limits, { knownMethods: KNOWN, classify }),
  isCacheable,
  judge: rpcJudge,
  sessionOf,
  headFromHeaders: () => undefined,
  headPoll: () => rpcHeadPoll('getblockcount', headFromBlockCount),
};
