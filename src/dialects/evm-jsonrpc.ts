// EVM JSON-RPC (geth, reth, anvil/hardhat). Classification by method; for reads that take a block
// parameter the block decides: a number pins (immutable, but reorgable near the head), a hash pins
// for good, `latest` is a head read forwarded pinned to the head the proxy chose.
//
// Cache safety: `eth_call(tx, "latest")` resolved to head H and `eth_call(tx, "0xH")` must hit one
// entry, so the block param is replaced by a fixed placeholder in the key material of both (the
// pipeline appends H or the pin). Tags that are not "the head" (`safe`, `finalized`) keep their
// text in the key: at head H they name a different block. Unknown methods are writes: the primary
// answers them, nothing is stored, nothing is retried (evm_mine, anvil_*, hardhat_*, ...).
import { evmChainIdentity } from './chain-identity.js';
import { InvalidParamsError } from '../errors.js';
import { contentTypeOnly, keptHeaders } from '../response/headers.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json-text.js';
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
import { evmSeenVersion } from './seen-versions.js';

/** Reads with a block parameter, and its index in params. */
const BLOCK_PARAM = new Map<string, number>([
  ['eth_call', 1],
  ['eth_getBalance', 1],
  ['eth_getCode', 1],
  ['eth_getStorageAt', 2],
  ['eth_getTransactionCount', 1],
  ['eth_getProof', 2],
  ['eth_getBlockByNumber', 0],
  ['eth_getBlockReceipts', 0],
  ['eth_getTransactionByBlockNumberAndIndex', 0],
  ['eth_getBlockTransactionCountByNumber', 0],
  ['eth_getUncleCountByBlockNumber', 0],
  ['eth_getUncleByBlockNumberAndIndex', 0],
]);

/** Lookups by hash (a hash names one thing forever) and chain constants. */
const IMMUTABLE = new Set([
  'eth_getBlockByHash',
  'eth_getTransactionByHash',
  'eth_getTransactionReceipt',
  'eth_getTransactionByBlockHashAndIndex',
  'eth_getBlockTransactionCountByHash',
  'eth_getUncleCountByBlockHash',
  'eth_getUncleByBlockHashAndIndex',
  'eth_chainId',
  'net_version',
]);

const HEAD = new Set(['eth_blockNumber', 'eth_gasPrice', 'eth_maxPriorityFeePerGas', 'eth_blobBaseFee']);

/** Reads whose answers must not be stored (node-specific, pending-state or too varied to key). */
const UNCACHED = new Set([
  'eth_estimateGas',
  'eth_createAccessList',
  'eth_getLogs',
  'eth_feeHistory',
  'eth_syncing',
  'web3_clientVersion',
  'net_peerCount',
  'net_listening',
  'eth_protocolVersion',
]);

/** Known writes, named only so that they get their own metric label (unknown methods are writes too). */
const KNOWN_WRITES = [
  'eth_sendRawTransaction',
  'eth_sendTransaction',
  'eth_sign',
  'eth_signTransaction',
  'eth_signTypedData_v4',
  // Filters and subscriptions live in one node's memory: they must stick to the primary.
  'eth_newFilter',
  'eth_newBlockFilter',
  'eth_newPendingTransactionFilter',
  'eth_getFilterChanges',
  'eth_getFilterLogs',
  'eth_uninstallFilter',
  'eth_subscribe',
  'eth_unsubscribe',
];

/** Upstream timeout classes (timeouts.byClass); debug_* and trace_* are slow too, the rest normal. */
const TIMEOUT_CLASS = new Map<string, TimeoutClass>([
  ...['eth_call', 'eth_getBalance', 'eth_getCode', 'eth_getStorageAt', 'eth_getTransactionCount', 'eth_chainId', 'net_version']
    .map((m) => [m, 'fast'] as const),
  ...['eth_blockNumber', 'eth_gasPrice', 'eth_maxPriorityFeePerGas', 'eth_getTransactionByHash', 'eth_getTransactionReceipt']
    .map((m) => [m, 'fast'] as const),
  ...['eth_getLogs', 'eth_getFilterLogs', 'eth_getBlockReceipts', 'eth_getProof'].map((m) => [m, 'slow'] as const),
]);

function timeoutClass(method: string): TimeoutClass | undefined {
  return TIMEOUT_CLASS.get(method) ?? (/^(debug|trace)_/.test(method) ? 'slow' : undefined);
}

const KNOWN = new Set([...BLOCK_PARAM.keys(), ...IMMUTABLE, ...HEAD, ...UNCACHED, ...KNOWN_WRITES]);

/** Stands in for the block param in key material; no valid block param serialises like it. */
export const BLOCK_PLACEHOLDER = '#block';

const HEX_U64 = /^0[xX][0-9a-fA-F]{1,16}$/;
/** A hex quantity as geth writes it: lower-case `0x`, no leading zeros. */
const CANONICAL_QUANTITY = /^0x(?:0|[1-9a-f][0-9a-f]{0,15})$/;
const HASH_32 = /^0[xX][0-9a-fA-F]{64}$/;

/**
 * number: pinned to n; `canonical` says the param is written exactly as `0x…` without leading
 * zeros, the only form that may share a key with other ways of naming the same block (geth
 * rejects `0x01`, ganache accepts it: nodes do not agree, so it gets a key of its own).
 * asWritten: a form the proxy does not understand (or a missing/null block param): forwarded as
 * written and never stored — the node decides what it means.
 */
type BlockRef =
  | { kind: 'number'; n: bigint; reorgable: boolean; canonical: boolean }
  | { kind: 'latest' | 'pending' | 'moving' | 'hash' | 'canonical-hash' | 'asWritten' };

function classify(method: string, params: RpcParams | undefined): RpcClassification {
  if (UNCACHED.has(method)) return UNCACHED_READ;
  const index = BLOCK_PARAM.get(method);
  if (index !== undefined) return classifyBlockRead(index, params);
  if (IMMUTABLE.has(method)) return IMMUTABLE_READ;
  if (HEAD.has(method)) return HEAD_READ;
  return WRITE;
}

function classifyBlockRead(index: number, params: RpcParams | undefined): RpcClassification {
  // Named params, or too few to reach the block param: forwarded as sent, never stored.
  if (params === undefined || !Array.isArray(params) || params.length <= index) return UNCACHED_READ;
  const ref = blockRef(params[index]);
  switch (ref.kind) {
    case 'number':
      // A non-canonical form keeps its own text in the key (own entry), still pinned to n.
      if (!ref.canonical) return ref.reorgable ? { cls: 'immutable', pin: ref.n, reorgable: true } : { cls: 'immutable', pin: ref.n };
      return ref.reorgable ? { cls: 'immutable', pin: ref.n, reorgable: true, blockAt: index } : { cls: 'immutable', pin: ref.n, blockAt: index };
    case 'latest':
      // Forwarded pinned to head H it is a read pinned by number, as reorgable as one.
      return LATEST_AT[index] as RpcClassification;
    case 'pending':
    case 'asWritten':
      return UNCACHED_READ;
    case 'moving':
      return HEAD_READ;
    case 'hash':
      return IMMUTABLE_READ;
    case 'canonical-hash':
      // The answer turns into an error once H leaves the canonical chain: not immutable while H
      // may still reorg, and the proxy cannot tell H's depth without asking, so it is not stored.
      return UNCACHED_READ;
  }
}

// Classifications that carry nothing of the call's own are shared (read only, never changed).
const UNCACHED_READ: RpcClassification = Object.freeze({ cls: 'uncached' });
const HEAD_READ: RpcClassification = Object.freeze({ cls: 'head' });
const IMMUTABLE_READ: RpcClassification = Object.freeze({ cls: 'immutable' });
const WRITE: RpcClassification = Object.freeze({ cls: 'write' });
/** A latest read whose block param is at index i: keyed with the placeholder, forwarded pinned. */
const LATEST_AT: readonly RpcClassification[] = Array.from({ length: Math.max(...BLOCK_PARAM.values()) + 1 }, (_, i) => i).map((blockAt) => Object.freeze({ cls: 'head', reorgable: true, blockAt, pinnable: true } as const));

/** The block param of a latest read forwarded pinned to h. */
function pinnedBlock(h: bigint): JsonValue {
  return `0x${h.toString(16)}`;
}

/** A block param: a tag, a number, a 32-byte hash or EIP-1898; anything else goes as written. */
function blockRef(v: JsonValue | undefined): BlockRef {
  if (typeof v === 'string') return tagRef(v);
  if (isJsonObject(v)) return eip1898Ref(v);
  return AS_WRITTEN;
}

const LATEST: BlockRef = Object.freeze({ kind: 'latest' });
const PENDING: BlockRef = Object.freeze({ kind: 'pending' });
const MOVING: BlockRef = Object.freeze({ kind: 'moving' });
const AS_WRITTEN: BlockRef = Object.freeze({ kind: 'asWritten' });

function tagRef(tag: string): BlockRef {
  switch (tag) {
    case 'latest':
      return LATEST;
    case 'pending':
      return PENDING;
    case 'safe':
    case 'finalized':
      return MOVING;
    case 'earliest':
      return { kind: 'number', n: 0n, reorgable: false, canonical: false };
  }
  // More than 64 bits is no block number; a 32-byte hash names a block for good (geth accepts it).
  if (HEX_U64.test(tag)) return { kind: 'number', n: BigInt(`0x${tag.slice(2)}`), reorgable: true, canonical: CANONICAL_QUANTITY.test(tag) };
  if (HASH_32.test(tag)) return { kind: 'hash' };
  return AS_WRITTEN;
}

/**
 * EIP-1898: `{blockHash, requireCanonical?}` pins for good; `{blockNumber, requireCanonical?}` is
 * read as the number (geth accepts both). The object form keeps its own key (see BlockRef).
 */
function eip1898Ref(o: JsonObject): BlockRef {
  const keys = Object.keys(o);
  const extrasOk = (name: string): boolean => keys.every((k) => k === name || (k === 'requireCanonical' && typeof o[k] === 'boolean'));
  if (typeof o.blockHash === 'string' && HASH_32.test(o.blockHash) && extrasOk('blockHash')) {
    // requireCanonical: the node must refuse H once a reorg left it off the canonical chain, so the
    // answer is not immutable while H may still reorg (see classifyBlockRead).
    return o.requireCanonical === true ? { kind: 'canonical-hash' } : { kind: 'hash' };
  }
  if (typeof o.blockNumber === 'string' && extrasOk('blockNumber')) {
    const ref = tagRef(o.blockNumber);
    // A tag inside the object is not pinned for the node: pinning would rewrite what it was asked.
    return ref.kind === 'number' ? { ...ref, canonical: false } : AS_WRITTEN;
  }
  return AS_WRITTEN;
}

function isCacheable(call: Call, answer: CallAnswer): boolean {
  if (!rpcAnswerCacheable(answer)) return false;
  if (call.rpc?.method === 'eth_getTransactionByHash') {
    // A pending transaction is returned with blockNumber null; it will change once mined.
    const tx = resultObject(answer.body);
    return tx !== undefined && tx.blockNumber !== null && tx.blockNumber !== undefined;
  }
  return true;
}

/** Methods whose answer names the block it landed in: a reorg can move it to another block. */
const LANDED_IN_BLOCK = new Set(['eth_getTransactionByHash', 'eth_getTransactionReceipt']);

function answerBlock(call: Call, body: Buffer): bigint | undefined {
  if (!call.rpc || !LANDED_IN_BLOCK.has(call.rpc.method)) return undefined;
  const blockNumber = resultObject(body)?.blockNumber;
  return typeof blockNumber === 'string' && HEX_U64.test(blockNumber) ? BigInt(`0x${blockNumber.slice(2)}`) : undefined;
}

function headFromBlockNumber(result: JsonValue): bigint | undefined {
  return typeof result === 'string' && HEX_U64.test(result) ? BigInt(`0x${result.slice(2)}`) : undefined;
}

const SPEC = { knownMethods: KNOWN, classify, timeoutClass, blockPlaceholder: BLOCK_PLACEHOLDER, pinnedBlock };

export const evmJsonRpc: Dialect = {
  name: 'evm-jsonrpc',
  kind: 'jsonrpc',
  plan: (method) => rpcPlan(method),
  parse: (req, limits) => parseRpcRequest(req.body, limits, SPEC),
  isCacheable,
  judge: rpcJudge,
  answerBlock,
  nodeFacts: () => ({}),
  prunedStatus: () => false,
  // A JSON-RPC entry is the raw `result`; the envelope and its headers are the proxy's own.
  storableHeaders: (headers) => keptHeaders(headers, contentTypeOnly),
  keyFromRequestBytes: false,
  observe: (call, answer) => evmSeenVersion(call, answer),
  headPoll: () => rpcHeadPoll('eth_blockNumber', headFromBlockNumber),
  chainIdentity: evmChainIdentity,
};
