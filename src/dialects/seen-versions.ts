// What an answer shows its client as committed or as the head: the versions/blocks that feed the
// read-your-writes floor (src/runtime/read-floor.ts). A client that has been shown block N (a
// receipt in N, eth_blockNumber = N) will next ask for "latest" expecting at least N; the proxy
// must not answer that read from an older snapshot. Each function is pure and returns the highest
// version the answer reveals, or undefined when it reveals none (errors, null results, pending
// transactions). Parsing is limited to the few calls that can reveal one: other answers are never
// decoded, so a hit of an eth_call or a view costs one Set lookup here.
import type { Call, CallAnswer } from './types.js';

const HEX_U64 = /^0[xX][0-9a-fA-F]{1,16}$/;
const U64 = /^\d{1,20}$/;

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function hexQuantity(v: unknown): bigint | undefined {
  return typeof v === 'string' && HEX_U64.test(v) ? BigInt(`0x${v.slice(2)}`) : undefined;
}

function decimal(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return typeof v === 'string' && U64.test(v) ? BigInt(v) : undefined;
}

function field(v: unknown, name: string): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[name] : undefined;
}

function max(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  return b === undefined || a >= b ? a : b;
}

/** Highest `name` over one object or an array of them (logs, account transactions). */
function highest(v: unknown, name: string, read: (x: unknown) => bigint | undefined): bigint | undefined {
  if (!Array.isArray(v)) return read(field(v, name));
  let best: bigint | undefined;
  for (const item of v) best = max(best, read(field(item, name)));
  return best;
}

function answered(answer: CallAnswer): boolean {
  return answer.status === 200 && answer.rpcError !== true;
}

// ── EVM ──────────────────────────────────────────────────────────────────────────────────────────

/** Results whose `number` is a block, and results (or arrays of them) whose `blockNumber` is one. */
const EVM_BLOCKS = new Set(['eth_getBlockByNumber', 'eth_getBlockByHash']);
const EVM_LANDED = new Set([
  'eth_getTransactionReceipt',
  'eth_getTransactionByHash',
  'eth_getTransactionByBlockHashAndIndex',
  'eth_getTransactionByBlockNumberAndIndex',
  'eth_getLogs',
  'eth_getFilterLogs',
  'eth_getFilterChanges',
  'eth_getBlockReceipts',
]);

export function evmSeenVersion(call: Call, answer: CallAnswer): bigint | undefined {
  const method = call.rpc?.method;
  if (method === undefined || !answered(answer)) return undefined;
  if (method === 'eth_blockNumber') return hexQuantity(parseJson(answer.body));
  if (EVM_BLOCKS.has(method)) return hexQuantity(field(parseJson(answer.body), 'number'));
  // A pending transaction has blockNumber null: hexQuantity ignores it.
  if (EVM_LANDED.has(method)) return highest(parseJson(answer.body), 'blockNumber', hexQuantity);
  return undefined;
}

// ── Aptos ────────────────────────────────────────────────────────────────────────────────────────

const APTOS_TXNS = new Set(['tx_by_hash', 'tx_wait_by_hash', 'tx_by_version', 'account_transactions']);

/**
 * Committed transactions' `version`; `ledger_version` of GET /v1. X-Aptos-Ledger-Version is a
 * source only where the proxy passes the node's answer as the node meant it (`headerIsHead`): on a
 * latest read the proxy keyed by its own snapshot the header is the node's head at fill time, not a
 * version the answer is for, and taking it would move every latest key on every answer.
 */
export function aptosSeenVersion(call: Call, answer: CallAnswer, headerIsHead = false): bigint | undefined {
  const fromHeader = headerIsHead ? aptosLedgerHeader(answer.headers) : undefined;
  if (answer.status !== 200) return fromHeader;
  if (call.name === 'ledger_info') return max(fromHeader, decimal(field(parseJson(answer.body), 'ledger_version')));
  if (!APTOS_TXNS.has(call.name) || isBcs(answer.headers)) return fromHeader;
  return max(fromHeader, highest(parseJson(answer.body), 'version', committedVersion));
}

function committedVersion(v: unknown): bigint | undefined {
  return decimal(v);
}

function isBcs(headers: CallAnswer['headers']): boolean {
  const t = headers['content-type'];
  return typeof t === 'string' && t.includes('bcs');
}

export function aptosLedgerHeader(headers: CallAnswer['headers']): bigint | undefined {
  const v = headers['x-aptos-ledger-version'];
  const text = Array.isArray(v) ? v[0] : v;
  return text === undefined ? undefined : decimal(text.trim());
}

// ── Neo N3 ───────────────────────────────────────────────────────────────────────────────────────

/**
 * getblockcount = height + 1; gettransactionheight is the block a transaction is in; a block read
 * by index (getblock, getblockheader, getblockhash) that answered shows that block exists, and a
 * verbose block names its `index`. Transactions and application logs name no height (C# RpcServer
 * and neo-go send `blockhash` / `confirmations`, never a height): see {@link neoMinedWithoutHeight}.
 */
export function neoSeenVersion(call: Call, answer: CallAnswer): bigint | undefined {
  const method = call.rpc?.method;
  if (method === undefined || !answered(answer)) return undefined;
  if (method === 'getblockcount') {
    const count = neoNumber(answer.body);
    return count !== undefined && count >= 1n ? count - 1n : undefined;
  }
  if (method === 'gettransactionheight') return neoNumber(answer.body);
  if (NEO_BLOCK_BY_INDEX.has(method) && call.pin !== undefined) return call.pin;
  if (method === 'getblock' || method === 'getblockheader') return decimal(field(parseJson(answer.body), 'index'));
  return undefined;
}

const NEO_BLOCK_BY_INDEX = new Set(['getblock', 'getblockheader', 'getblockhash']);

/**
 * True when the answer shows its client a transaction as mined but names no block: a verbose
 * getrawtransaction with a `blockhash` (a mempool answer has none), or an application log that was
 * found (a log exists only once its transaction or block was persisted). The client's next latest
 * read expects that block; only the answering node can say how high it is now, so the proxy asks it
 * (observe-answers.ts) before the reply is written.
 */
export function neoMinedWithoutHeight(call: Call, answer: CallAnswer): boolean {
  const method = call.rpc?.method;
  if (!answered(answer)) return false;
  if (method === 'getapplicationlog') return true;
  return method === 'getrawtransaction' && typeof field(parseJson(answer.body), 'blockhash') === 'string';
}

function neoNumber(body: Buffer): bigint | undefined {
  const text = body.toString('latin1').trim();
  return /^\d{1,20}$/.test(text) ? BigInt(text) : undefined;
}

// ── Writes that move the head ────────────────────────────────────────────────────────────────────

/**
 * Writes after which the head is about to move: transaction submissions, and methods the dialect
 * does not know (`evm_mine`, `anvil_mine`, ...: named 'other'). Filters, subscriptions and signing
 * are writes only in that they stick to the primary; polling for them would be load for nothing.
 */
const HEAD_MOVING = new Set(['eth_sendRawTransaction', 'eth_sendTransaction', 'sendrawtransaction', 'submitblock', 'other']);

export function movesHead(call: Call): boolean {
  return call.cls === 'write' && HEAD_MOVING.has(call.name);
}
