/**
 * Mock JSON-RPC 2.0 nodes on a real HTTP server: an EVM node (geth-like) and a Neo N3 node.
 *
 * Envelope: single and batch bodies, ids echoed as sent (numbers, strings, null), notifications get
 * no answer, `-32700` for unparsable JSON, `-32600` for an invalid request or an empty batch,
 * `-32601` for an unknown method, `-32602` for bad params.
 *
 * State is deterministic: a pure function of (chain id, block number, fork) so two nodes with the same
 * options at the same head answer byte-identically, and the same call pinned to different blocks
 * answers differently (see {@link evmBalance}, {@link evmCallResult}, {@link neoInvokeValue}).
 * Every block has one synthetic transaction ({@link JsonRpcNodeHandle.txHashAt}) plus whatever was
 * sent with `eth_sendRawTransaction` / `sendrawtransaction` before it was mined by `advance()`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { keccak256, parseTransaction, recoverTransactionAddress, type Hex } from 'viem';
import { FaultyServer, type Fault, type FaultableNode, type MockRequest, type MockResponse } from './node-faults.js';

export type JsonRpcFlavor = 'evm' | 'neo';

export interface JsonRpcNodeOptions {
  flavor: JsonRpcFlavor;
  port?: number;
  /** Added before every HTTP answer (a batch waits once). */
  latencyMs?: number;
  /** Head block number (EVM, default 100) / latest block index (Neo, default 1000; `getblockcount` = head + 1). */
  head?: number;
  /** EVM chain id (default 31337); Neo network magic for `getversion` (default 860833102). */
  chainId?: number;
  /** Mine one block every this many ms (unref'd timer). */
  autoAdvanceMs?: number;
  /** A sent transaction is mined (one block) this long after it is sent; default: only by `advance()` / auto-advance. */
  commitDelayMs?: number;
  /** EVM: `finalized` = head - finalizedDepth (default 64), `safe` = head - safeDepth (default 32). */
  finalizedDepth?: number;
  safeDepth?: number;
  /** gzip answers when the client accepts it (default false). */
  gzip?: boolean;
}

export interface JsonRpcRequestRecord {
  method: string;
  params: unknown;
  id: unknown;
  /** Index within a batch body, or undefined for a single call. */
  batchIndex?: number;
  at: number;
}

export interface JsonRpcHttpRecord {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  at: number;
}

export interface SentTransaction {
  hash: string;
  raw: string;
  /** Block it was mined in, once mined. */
  blockNumber?: number;
}

export interface JsonRpcNodeHandle extends FaultableNode {
  readonly flavor: JsonRpcFlavor;
  readonly url: string;
  readonly port: number;
  /**
   * `total`: HTTP requests; `batches`: of which batch bodies; `rpc`: individual calls (a batch of 3
   * counts 3); `byMethod`: individual calls per method.
   */
  readonly calls: { total: number; batches: number; rpc: number; byMethod: Map<string, number> };
  /** Every individual call received, in order. */
  readonly requests: JsonRpcRequestRecord[];
  /** Every HTTP request received (headers + raw body). */
  readonly httpRequests: JsonRpcHttpRecord[];
  /** The node's own head (ignores `lagBy`). */
  readonly head: number;
  /** The head it reports and serves (after `lagBy`). */
  readonly reportedHead: number;
  readonly chainId: number;
  /** Mine / produce `n` blocks (default 1); pending sent transactions go into the first. Returns the new head. */
  advance(n?: number): number;
  /** EVM only: replace the last `depth` blocks with a new fork (new hashes, new state answers). */
  reorg(depth: number): void;
  /** Hash of block `n` on the current fork. */
  blockHashAt(n: number): string;
  /** Hash of the synthetic transaction in block `n` (index 0). */
  txHashAt(n: number): string;
  readonly sent: ReadonlyMap<string, SentTransaction>;
  setFault(fault: Fault): void;
  readonly fault: Fault;
  resetCalls(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Deterministic state (exported so tests can compute expected answers).

function sha256(s: string | Uint8Array): Buffer {
  return createHash('sha256').update(s).digest();
}

function hex(n: bigint | number): string {
  return `0x${n.toString(16)}`;
}

function word(n: bigint): string {
  return `0x${BigInt.asUintN(256, n).toString(16).padStart(64, '0')}`;
}

function forkSalt(fork: number): string {
  return fork > 0 ? `:fork${fork}` : '';
}

/** Wei held by `address` at block `block` (on fork `fork`, 0 = the original chain). */
export function evmBalance(address: string, block: number, fork = 0): bigint {
  const base = BigInt(`0x${sha256(`bal:${address.toLowerCase()}${forkSalt(fork)}`).subarray(0, 8).toString('hex')}`) % 10n ** 21n;
  return base + BigInt(block) * 10n ** 12n;
}

/** `eth_call` result: the block number xor sha256(`to:data`), as a 32-byte word. */
export function evmCallResult(to: string, data: string, block: number, fork = 0): string {
  const h = BigInt(`0x${sha256(`${to.toLowerCase()}:${data.toLowerCase()}${forkSalt(fork)}`).toString('hex')}`);
  return word(h ^ BigInt(block));
}

/** Neo `invokefunction` Integer result for a non-special operation at block count `blockCount`. */
export function neoInvokeValue(scriptHash: string, operation: string, params: unknown, blockCount: number): string {
  const h = BigInt(`0x${sha256(`${scriptHash.toLowerCase()}:${operation}:${JSON.stringify(params ?? [])}`).subarray(0, 6).toString('hex')}`);
  return (h + BigInt(blockCount) * 1000n).toString();
}

/** Neo operation that answers an iterator with a session (use `traverseiterator` / `terminatesession`). */
export const NEO_ITERATOR_OPERATION = 'tokensOf';
/** Neo operation that answers `state: "FAULT"`. */
export const NEO_FAULT_OPERATION = 'abort';
export const NEO_TOKEN_HASH = '0xef4073a0f2b305a38ec4050e4d3d28bc40ea63f5';
export const GAS_TOKEN_HASH = '0xd2a4cff31913016155e38e474a2c06d08be276cf';
export const EVM_LOG_ADDRESS = '0x00000000000000000000000000000000000c0ffe';
export const EVM_TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

function versionedHash(kind: string, chainId: number, n: number, salt = ''): string {
  return `0x${sha256(`${kind}:${chainId}:${n}${salt}`).subarray(0, 24).toString('hex')}${n.toString(16).padStart(16, '0')}`;
}

function numberInHash(hash: unknown): number | undefined {
  if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) return undefined;
  const n = Number.parseInt(hash.slice(50), 16);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Length of the unsigned part of a serialized Neo N3 transaction (header, signers, attributes,
 * script: everything before the witnesses), or undefined for a form this reader does not follow
 * (witness rules, unknown attributes, truncated bytes). The transaction hash is sha256 of that part,
 * shown byte-reversed, as neo and neon-js's `Transaction.hash()` compute it.
 */
function neoUnsignedLength(b: Buffer): number | undefined {
  let at = 25; // version 1, nonce 4, system fee 8, network fee 8, validUntilBlock 4
  const varint = (): number | undefined => {
    const first = b[at];
    if (first === undefined) return undefined;
    const width = first < 0xfd ? 0 : first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    at += 1;
    if (width === 0) return first;
    if (at + width > b.length || width === 8) return undefined;
    const v = width === 2 ? b.readUInt16LE(at) : b.readUInt32LE(at);
    at += width;
    return v;
  };
  const skip = (n: number | undefined): boolean => n !== undefined && (at += n) <= b.length;
  const signers = varint();
  if (signers === undefined) return undefined;
  for (let i = 0; i < signers; i++) {
    if (!skip(20)) return undefined;
    const scopes = b[at++];
    if (scopes === undefined || (scopes & 0x40) !== 0) return undefined; // WitnessRules: not followed
    if ((scopes & 0x10) !== 0 && !skip((varint() ?? -1) * 20)) return undefined;
    if ((scopes & 0x20) !== 0 && !skip((varint() ?? -1) * 33)) return undefined;
  }
  const attributes = varint();
  if (attributes === undefined) return undefined;
  const sizes = new Map([[0x01, 0], [0x20, 4], [0x21, 32], [0x22, 1]]);
  for (let i = 0; i < attributes; i++) {
    const size = sizes.get(b[at++] ?? -1);
    if (size === undefined || !skip(size)) return undefined; // OracleResponse and others: not followed
  }
  return skip(varint()) ? at : undefined;
}

/** The id a Neo node gives a serialized transaction (falls back to hashing all bytes for forms not followed). */
export function neoTransactionHash(bytes: Buffer): string {
  const unsigned = neoUnsignedLength(bytes);
  return `0x${Buffer.from(sha256(bytes.subarray(0, unsigned ?? bytes.length))).reverse().toString('hex')}`;
}

function addr20(label: string): string {
  return `0x${sha256(label).subarray(0, 20).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC envelope.

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

type Method = (params: unknown[]) => unknown;

interface Envelope {
  jsonrpc: '2.0';
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

function parseBody(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function isCall(x: unknown): x is { jsonrpc: string; method: string; params?: unknown; id?: unknown } {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && (x as { jsonrpc?: unknown }).jsonrpc === '2.0' && typeof (x as { method?: unknown }).method === 'string';
}

async function runCall(methods: Record<string, Method>, item: unknown): Promise<Envelope | undefined> {
  if (!isCall(item)) {
    const id = typeof item === 'object' && item !== null && 'id' in item ? (item as { id: unknown }).id : null;
    return { jsonrpc: '2.0', id: id ?? null, error: { code: -32600, message: 'invalid request' } };
  }
  const isNotification = !('id' in item);
  const id = item.id;
  let out: Envelope;
  try {
    const fn = Object.prototype.hasOwnProperty.call(methods, item.method) ? methods[item.method] : undefined;
    if (!fn) throw new RpcError(-32601, `the method ${item.method} does not exist/is not available`);
    const params = item.params === undefined || item.params === null ? [] : item.params;
    if (!Array.isArray(params)) throw new RpcError(-32602, 'invalid params: non-array args');
    const result = await fn(params);
    out = { jsonrpc: '2.0', id, result: result === undefined ? null : result };
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    out = { jsonrpc: '2.0', id, error: e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data } };
  }
  return isNotification ? undefined : out;
}

function invalidParams(msg: string): RpcError {
  return new RpcError(-32602, `invalid argument: ${msg}`);
}

function quantity(v: unknown, what: string): number {
  if (typeof v !== 'string' || !/^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/.test(v)) throw invalidParams(`${what}: hex string without leading zero digits expected`);
  const n = Number.parseInt(v.slice(2), 16);
  if (!Number.isSafeInteger(n)) throw invalidParams(`${what}: too large`);
  return n;
}

function isAddress(v: unknown): v is string {
  return typeof v === 'string' && /^0x[0-9a-fA-F]{40}$/.test(v);
}

// ---------------------------------------------------------------------------------------------

export async function startJsonRpcNode(opts: JsonRpcNodeOptions): Promise<JsonRpcNodeHandle> {
  const flavor = opts.flavor;
  const evm = flavor === 'evm';
  const chainId = opts.chainId ?? (evm ? 31337 : 860833102);
  let head = opts.head ?? (evm ? 100 : 1000);
  const finalizedDepth = opts.finalizedDepth ?? 64;
  const safeDepth = opts.safeDepth ?? 32;
  const calls = { total: 0, batches: 0, rpc: 0, byMethod: new Map<string, number>() };
  const requests: JsonRpcRequestRecord[] = [];
  const httpRequests: JsonRpcHttpRecord[] = [];
  const sent = new Map<string, SentTransaction>();
  const sentDetails = new Map<string, Record<string, unknown>>();
  const minedIn = new Map<number, SentTransaction[]>();
  let pending: SentTransaction[] = [];
  /** First block of each reorg, in order; fork(n) = how many of them are <= n. */
  const reorgs: number[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const fault = (): Fault => server.fault;
  const reportedHead = (): number => Math.max(0, head - Math.max(0, fault().lagBy ?? 0));
  const forkOf = (n: number): number => reorgs.filter((r) => r <= n).length;
  const blockHashAt = (n: number): string => versionedHash(evm ? 'evm-block' : 'neo-block', chainId, n, forkSalt(evm ? forkOf(n) : 0));
  const txHashAt = (n: number): string => versionedHash(evm ? 'evm-tx' : 'neo-tx', chainId, n, forkSalt(evm ? forkOf(n) : 0));

  const advance = (n = 1): number => {
    for (let i = 0; i < n; i++) {
      head += 1;
      if (pending.length) {
        for (const t of pending) t.blockNumber = head;
        minedIn.set(head, pending);
        pending = [];
      }
    }
    return head;
  };

  const later = (ms: number, fn: () => void, repeat = false): void => {
    const t = repeat ? setInterval(fn, ms) : setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    t.unref();
    timers.add(t);
  };
  if (opts.autoAdvanceMs && opts.autoAdvanceMs > 0) later(opts.autoAdvanceMs, () => advance(1), true);

  const recordSent = (hash: string, raw: string, details: Record<string, unknown>): void => {
    if (sent.has(hash)) return;
    const t: SentTransaction = { hash, raw };
    sent.set(hash, t);
    sentDetails.set(hash, details);
    pending.push(t);
    if (opts.commitDelayMs !== undefined) {
      later(opts.commitDelayMs, () => {
        if (t.blockNumber === undefined) advance(1);
      });
    }
  };

  const methods: Record<string, Method> = evm ? evmMethods() : neoMethods();

  // ===========================================================================================
  function evmMethods(): Record<string, Method> {
    const ZERO32 = `0x${'0'.repeat(64)}`;
    const BLOOM = `0x${'0'.repeat(512)}`;
    const blockTime = (n: number): number => 1_700_000_000 + n * 12;

    /** Resolves a block tag / number / EIP-1898 object to a block number (may be above the reported head). */
    const resolveBlock = (tag: unknown): number => {
      if (tag === undefined || tag === null || tag === 'latest' || tag === 'pending') return reportedHead();
      if (tag === 'earliest') return 0;
      if (tag === 'safe') return Math.max(0, reportedHead() - safeDepth);
      if (tag === 'finalized') return Math.max(0, reportedHead() - finalizedDepth);
      // geth reads a 32-byte hex string as a block hash (BlockNumberOrHash).
      if (typeof tag === 'string' && /^0x[0-9a-fA-F]{64}$/.test(tag)) return resolveBlock({ blockHash: tag });
      if (typeof tag === 'string') return quantity(tag, 'block number');
      if (typeof tag === 'object') {
        const o = tag as { blockNumber?: unknown; blockHash?: unknown };
        if (o.blockHash !== undefined) {
          const n = numberInHash(o.blockHash);
          if (n === undefined || n > reportedHead() || blockHashAt(n) !== String(o.blockHash).toLowerCase()) {
            throw new RpcError(-32000, `header for hash not found`);
          }
          return n;
        }
        if (o.blockNumber !== undefined) return resolveBlock(o.blockNumber);
      }
      throw invalidParams('block number or tag expected');
    };
    /** For state reads: the block must exist and not be pruned. */
    const stateBlock = (tag: unknown): number => {
      const n = resolveBlock(tag);
      if (n > reportedHead()) throw new RpcError(-32000, 'header not found');
      const pruned = fault().prunedBelow;
      if (pruned !== undefined && n < pruned) {
        throw new RpcError(-32000, `missing trie node ${word(BigInt(n))} (path ) state ${blockHashAt(n)} is not available`);
      }
      return n;
    };

    const syntheticTx = (n: number): Record<string, unknown> => {
      const h = sha256(`evm-sig:${chainId}:${n}${forkSalt(forkOf(n))}`);
      const s = Buffer.from(sha256(`evm-sig-s:${chainId}:${n}`));
      s[0] = (s[0] ?? 0) & 0x7f;
      return {
        blockHash: blockHashAt(n),
        blockNumber: hex(n),
        from: addr20(`from:${n % 5}`),
        gas: '0x5208',
        gasPrice: '0x3b9aca07',
        maxFeePerGas: '0x77359400',
        maxPriorityFeePerGas: '0x3b9aca00',
        hash: txHashAt(n),
        input: '0x',
        nonce: hex(Math.floor(n / 5)),
        to: addr20(`to:${n % 3}`),
        transactionIndex: '0x0',
        value: hex(BigInt(n) * 10n ** 15n),
        type: '0x2',
        accessList: [],
        chainId: hex(chainId),
        v: hex(n % 2),
        yParity: hex(n % 2),
        r: `0x${h.toString('hex')}`,
        s: `0x${s.toString('hex')}`,
      };
    };

    const sentTxJson = (t: SentTransaction): Record<string, unknown> => {
      const d = sentDetails.get(t.hash) ?? {};
      const mined = t.blockNumber !== undefined && t.blockNumber <= reportedHead();
      const idx = mined ? (minedIn.get(t.blockNumber ?? -1)?.indexOf(t) ?? 0) + 1 : undefined;
      return {
        blockHash: mined ? blockHashAt(t.blockNumber ?? 0) : null,
        blockNumber: mined ? hex(t.blockNumber ?? 0) : null,
        ...d,
        hash: t.hash,
        transactionIndex: idx === undefined ? null : hex(idx),
      };
    };

    const syntheticLog = (n: number): Record<string, unknown> => ({
      address: EVM_LOG_ADDRESS,
      topics: [EVM_TRANSFER_TOPIC, word(BigInt(addr20(`from:${n % 5}`))), word(BigInt(addr20(`to:${n % 3}`)))],
      data: word(BigInt(n) * 10n ** 15n),
      blockNumber: hex(n),
      blockHash: blockHashAt(n),
      blockTimestamp: hex(blockTime(n)),
      transactionHash: txHashAt(n),
      transactionIndex: '0x0',
      logIndex: '0x0',
      removed: false,
    });

    const blockJson = (n: number, full: boolean): Record<string, unknown> => {
      const mined = minedIn.get(n) ?? [];
      const txs = full ? [syntheticTx(n), ...mined.map(sentTxJson)] : [txHashAt(n), ...mined.map((t) => t.hash)];
      const fork = forkOf(n);
      return {
        baseFeePerGas: '0x7',
        blobGasUsed: '0x0',
        difficulty: '0x0',
        excessBlobGas: '0x0',
        extraData: '0x',
        gasLimit: '0x1c9c380',
        gasUsed: hex(21000 * (1 + mined.length)),
        hash: blockHashAt(n),
        logsBloom: BLOOM,
        miner: addr20('miner'),
        mixHash: `0x${sha256(`mix:${chainId}:${n}${forkSalt(fork)}`).toString('hex')}`,
        nonce: '0x0000000000000000',
        number: hex(n),
        parentBeaconBlockRoot: ZERO32,
        parentHash: n === 0 ? ZERO32 : blockHashAt(n - 1),
        receiptsRoot: `0x${sha256(`receipts:${chainId}:${n}${forkSalt(fork)}`).toString('hex')}`,
        sha3Uncles: '0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347',
        size: hex(600 + 110 * txs.length),
        stateRoot: `0x${sha256(`state:${chainId}:${n}${forkSalt(fork)}`).toString('hex')}`,
        timestamp: hex(blockTime(n)),
        totalDifficulty: '0x0',
        transactions: txs,
        transactionsRoot: `0x${sha256(`txroot:${chainId}:${n}${forkSalt(fork)}`).toString('hex')}`,
        uncles: [],
        withdrawals: [],
        withdrawalsRoot: ZERO32,
      };
    };

    const findTx = (hash: unknown): { kind: 'synthetic'; n: number } | { kind: 'sent'; t: SentTransaction } | undefined => {
      if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) throw invalidParams('hash: 32-byte hex expected');
      const h = hash.toLowerCase();
      const t = sent.get(h);
      if (t) return { kind: 'sent', t };
      const n = numberInHash(h);
      if (n !== undefined && n <= reportedHead() && txHashAt(n) === h) return { kind: 'synthetic', n };
      return undefined;
    };

    const receipt = (base: Record<string, unknown>, logs: unknown[]): Record<string, unknown> => ({
      blockHash: base.blockHash,
      blockNumber: base.blockNumber,
      contractAddress: null,
      cumulativeGasUsed: '0x5208',
      effectiveGasPrice: '0x3b9aca07',
      from: base.from,
      gasUsed: '0x5208',
      logs,
      logsBloom: BLOOM,
      status: '0x1',
      to: base.to ?? null,
      transactionHash: base.hash,
      transactionIndex: base.transactionIndex,
      type: base.type ?? '0x2',
    });

    const TYPE_HEX: Record<string, string> = { legacy: '0x0', eip2930: '0x1', eip1559: '0x2', eip4844: '0x3', eip7702: '0x4' };

    return {
      web3_clientVersion: () => 'ledgerproxy-mock/evm/v1.0.0',
      net_version: () => String(chainId),
      eth_chainId: () => hex(chainId),
      eth_syncing: () => false,
      eth_blockNumber: () => hex(reportedHead()),
      eth_gasPrice: () => '0x3b9aca07',
      eth_maxPriorityFeePerGas: () => '0x3b9aca00',
      eth_estimateGas: () => '0x5208',
      eth_getBalance: ([address, tag]) => {
        if (!isAddress(address)) throw invalidParams('address expected');
        const n = stateBlock(tag);
        return hex(evmBalance(address, n, forkOf(n)));
      },
      eth_getTransactionCount: ([address, tag]) => {
        if (!isAddress(address)) throw invalidParams('address expected');
        return hex(Math.floor(stateBlock(tag) / 4));
      },
      eth_getCode: ([address, tag]) => {
        if (!isAddress(address)) throw invalidParams('address expected');
        stateBlock(tag);
        const h = sha256(`code:${address.toLowerCase()}`);
        return (h[0] ?? 0) < 128 ? `0x6080604052${h.subarray(0, 16).toString('hex')}` : '0x';
      },
      eth_getStorageAt: ([address, slot, tag]) => {
        if (!isAddress(address)) throw invalidParams('address expected');
        if (typeof slot !== 'string' || !/^0x[0-9a-fA-F]{0,64}$/.test(slot)) throw invalidParams('storage slot expected');
        const n = stateBlock(tag);
        return word(BigInt(`0x${sha256(`slot:${address.toLowerCase()}:${BigInt(slot === '0x' ? 0 : slot)}${forkSalt(forkOf(n))}`).toString('hex')}`) ^ BigInt(n));
      },
      eth_call: ([tx, tag]) => {
        if (typeof tx !== 'object' || tx === null) throw invalidParams('call object expected');
        const t = tx as { to?: unknown; data?: unknown; input?: unknown };
        const to = typeof t.to === 'string' ? t.to : '0x';
        const data = typeof t.input === 'string' ? t.input : typeof t.data === 'string' ? t.data : '0x';
        const n = stateBlock(tag);
        return evmCallResult(to, data, n, forkOf(n));
      },
      eth_getBlockByNumber: ([tag, full]) => {
        const n = resolveBlock(tag);
        return n > reportedHead() ? null : blockJson(n, full === true);
      },
      eth_getBlockByHash: ([hash, full]) => {
        if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) throw invalidParams('hash: 32-byte hex expected');
        const n = numberInHash(hash);
        if (n === undefined || n > reportedHead() || blockHashAt(n) !== hash.toLowerCase()) return null;
        return blockJson(n, full === true);
      },
      eth_getBlockTransactionCountByNumber: ([tag]) => {
        const n = resolveBlock(tag);
        return n > reportedHead() ? null : hex(1 + (minedIn.get(n)?.length ?? 0));
      },
      eth_getTransactionByHash: ([hash]) => {
        const f = findTx(hash);
        if (!f) return null;
        return f.kind === 'synthetic' ? syntheticTx(f.n) : sentTxJson(f.t);
      },
      eth_getTransactionReceipt: ([hash]) => {
        const f = findTx(hash);
        if (!f) return null;
        if (f.kind === 'synthetic') return receipt(syntheticTx(f.n), [syntheticLog(f.n)]);
        const tx = sentTxJson(f.t);
        return tx.blockNumber === null ? null : receipt(tx, []);
      },
      eth_sendRawTransaction: async ([raw]) => {
        if (typeof raw !== 'string' || !/^0x([0-9a-fA-F]{2})+$/.test(raw)) throw invalidParams('raw transaction: hex bytes expected');
        const hash = keccak256(raw as Hex).toLowerCase();
        let details: Record<string, unknown> = {
          from: addr20(`sender:${hash}`),
          to: null,
          gas: '0x5208',
          gasPrice: '0x3b9aca07',
          input: '0x',
          nonce: '0x0',
          value: '0x0',
          type: '0x0',
          chainId: hex(chainId),
          v: '0x0',
          r: `0x${'1'.padStart(64, '0')}`,
          s: `0x${'1'.padStart(64, '0')}`,
        };
        try {
          const p = parseTransaction(raw as Hex);
          let from = details.from;
          try {
            from = (await recoverTransactionAddress({ serializedTransaction: raw as Parameters<typeof recoverTransactionAddress>[0]['serializedTransaction'] })).toLowerCase();
          } catch {
            /* unsigned or odd: keep the synthetic sender */
          }
          const isLegacy = p.type === 'legacy';
          const yParity = p.yParity ?? (p.v !== undefined ? Number(p.v % 2n === 0n ? 1n : 0n) : 0);
          details = {
            from,
            to: p.to ? p.to.toLowerCase() : null,
            gas: hex(p.gas ?? 21000n),
            gasPrice: hex(p.gasPrice ?? p.maxFeePerGas ?? 0n),
            ...(isLegacy ? {} : { maxFeePerGas: hex(p.maxFeePerGas ?? 0n), maxPriorityFeePerGas: hex(p.maxPriorityFeePerGas ?? 0n), accessList: p.accessList ?? [] }),
            input: p.data ?? '0x',
            nonce: hex(p.nonce ?? 0),
            value: hex(p.value ?? 0n),
            type: TYPE_HEX[p.type ?? 'legacy'] ?? '0x0',
            chainId: hex(p.chainId ?? chainId),
            v: hex(isLegacy ? (p.v ?? 27n) : BigInt(yParity)),
            ...(isLegacy ? {} : { yParity: hex(yParity) }),
            r: p.r ?? details.r,
            s: p.s ?? details.s,
          };
        } catch {
          /* not a decodable transaction: record it anyway with synthetic fields */
        }
        recordSent(hash, raw, details);
        return hash;
      },
      eth_getLogs: ([filter]) => {
        if (typeof filter !== 'object' || filter === null) throw invalidParams('filter object expected');
        const f = filter as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown; address?: unknown; topics?: unknown };
        let from: number;
        let to: number;
        if (f.blockHash !== undefined) {
          from = to = resolveBlock({ blockHash: f.blockHash });
        } else {
          from = resolveBlock(f.fromBlock ?? 'latest');
          to = Math.min(resolveBlock(f.toBlock ?? 'latest'), reportedHead());
        }
        if (to - from > 10_000) throw new RpcError(-32005, 'query exceeds max block range 10000');
        const addrs = f.address === undefined || f.address === null ? undefined : (Array.isArray(f.address) ? f.address : [f.address]).map((a) => String(a).toLowerCase());
        const topic0 = Array.isArray(f.topics) ? f.topics[0] : undefined;
        const t0 = topic0 === undefined || topic0 === null ? undefined : (Array.isArray(topic0) ? topic0 : [topic0]).map((t) => String(t).toLowerCase());
        if (addrs && !addrs.includes(EVM_LOG_ADDRESS)) return [];
        if (t0 && !t0.includes(EVM_TRANSFER_TOPIC)) return [];
        const out: unknown[] = [];
        for (let n = Math.max(0, from); n <= to; n++) out.push(syntheticLog(n));
        return out;
      },
    };
  }

  // ===========================================================================================
  function neoMethods(): Record<string, Method> {
    const sessions = new Map<string, { iteratorId: string; items: string[]; cursor: number }>();
    const blockTime = (i: number): number => 1_700_000_000_000 + i * 15_000;
    const neoAddress = (label: string): string => {
      const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
      const h = sha256(label);
      let out = 'N';
      for (let i = 0; i < 33; i++) out += alphabet[(h[i % 32] ?? 0) % 58];
      return out;
    };
    const b64 = (label: string, len = 64): string => {
      const parts: Buffer[] = [];
      for (let i = 0; parts.length * 32 < len; i++) parts.push(sha256(`${label}:${i}`));
      return Buffer.concat(parts).subarray(0, len).toString('base64');
    };
    const checkIndex = (v: unknown): number => {
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
      if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
      throw new RpcError(-32602, 'Invalid params');
    };
    const blockRef = (v: unknown): number => {
      if (typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v)) {
        const n = numberInHash(v);
        if (n === undefined || n > reportedHead() || blockHashAt(n) !== v.toLowerCase()) throw new RpcError(-101, 'Unknown block');
        return n;
      }
      const n = checkIndex(v);
      if (n > reportedHead()) throw new RpcError(-101, 'Unknown block');
      return n;
    };
    const verbose = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true';

    const syntheticTx = (i: number): Record<string, unknown> => ({
      hash: txHashAt(i),
      size: 252,
      version: 0,
      nonce: Number.parseInt(sha256(`neo-nonce:${i}`).subarray(0, 4).toString('hex'), 16),
      sender: neoAddress(`neo-sender:${i % 4}`),
      sysfee: '997775',
      netfee: '1272390',
      validuntilblock: i + 5760,
      signers: [{ account: `0x${sha256(`neo-signer:${i % 4}`).subarray(0, 20).toString('hex')}`, scopes: 'CalledByEntry' }],
      attributes: [],
      script: b64(`neo-script:${i}`, 96),
      witnesses: [{ invocation: b64(`neo-inv:${i}`, 66), verification: b64(`neo-ver:${i % 4}`, 40) }],
    });
    const sentTxJson = (t: SentTransaction): Record<string, unknown> => ({ ...sentDetails.get(t.hash), hash: t.hash });
    const withBlock = (tx: Record<string, unknown>, i: number): Record<string, unknown> => ({
      ...tx,
      blockhash: blockHashAt(i),
      confirmations: reportedHead() - i + 1,
      blocktime: blockTime(i),
    });
    const blockJson = (i: number, withTx: boolean): Record<string, unknown> => {
      const txs = [syntheticTx(i), ...(minedIn.get(i) ?? []).map(sentTxJson)];
      const out: Record<string, unknown> = {
        hash: blockHashAt(i),
        size: 697 + 250 * txs.length,
        version: 0,
        previousblockhash: i === 0 ? `0x${'0'.repeat(64)}` : blockHashAt(i - 1),
        merkleroot: `0x${sha256(`neo-merkle:${chainId}:${i}`).toString('hex')}`,
        time: blockTime(i),
        nonce: sha256(`neo-bnonce:${i}`).subarray(0, 8).toString('hex').toUpperCase(),
        index: i,
        primary: i % 7,
        nextconsensus: neoAddress('neo-consensus'),
        witnesses: [{ invocation: b64(`neo-binv:${i}`, 66), verification: b64('neo-bver', 40) }],
      };
      if (withTx) out.tx = txs;
      out.confirmations = reportedHead() - i + 1;
      if (i < reportedHead()) out.nextblockhash = blockHashAt(i + 1);
      return out;
    };
    const findTx = (hash: unknown): { tx: Record<string, unknown>; block?: number } => {
      if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) throw new RpcError(-32602, 'Invalid params');
      const h = hash.toLowerCase();
      const t = sent.get(h);
      if (t) {
        const mined = t.blockNumber !== undefined && t.blockNumber <= reportedHead();
        return mined ? { tx: sentTxJson(t), block: t.blockNumber } : { tx: sentTxJson(t) };
      }
      const n = numberInHash(h);
      if (n !== undefined && n <= reportedHead() && txHashAt(n) === h) return { tx: syntheticTx(n), block: n };
      throw new RpcError(-103, 'Unknown transaction');
    };
    const applicationLogOf = (hash: string): Record<string, unknown> | undefined => {
      let found: { block?: number } | undefined;
      try {
        found = findTx(hash);
      } catch {
        return undefined;
      }
      if (found.block === undefined) return undefined;
      return {
        txid: hash,
        executions: [{ trigger: 'Application', vmstate: 'HALT', exception: null, gasconsumed: '997775', stack: [], notifications: [] }],
      };
    };
    const invokeResult = (script: string, stack: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      script,
      state: 'HALT',
      gasconsumed: String(997_770 + (stack.length * 1_000)),
      exception: null,
      notifications: [],
      stack,
      ...extra,
    });

    return {
      getversion: () => ({
        tcpport: 10333,
        nonce: 1_234_567,
        useragent: '/ledgerproxy-mock:3.7.4/',
        rpc: { maxiteratorresultitems: 100, sessionenabled: true },
        protocol: {
          addressversion: 53,
          network: chainId,
          validatorscount: 7,
          msperblock: 15000,
          maxtraceableblocks: 2102400,
          maxvaliduntilblockincrement: 5760,
          maxtransactionsperblock: 512,
          memorypoolmaxtransactions: 50000,
          initialgasdistribution: 5200000000000000,
        },
      }),
      getblockcount: () => reportedHead() + 1,
      getbestblockhash: () => blockHashAt(reportedHead()),
      getblockhash: ([index]) => blockHashAt(blockRef(checkIndex(index))),
      getblock: ([ref, v]) => {
        const i = blockRef(ref);
        return verbose(v) ? blockJson(i, true) : b64(`neo-rawblock:${chainId}:${i}`, 160);
      },
      getblockheader: ([ref, v]) => {
        const i = blockRef(ref);
        return verbose(v) ? blockJson(i, false) : b64(`neo-rawheader:${chainId}:${i}`, 110);
      },
      getrawtransaction: ([hash, v]) => {
        const { tx, block } = findTx(hash);
        if (!verbose(v)) return b64(`neo-rawtx:${String(tx.hash)}`, 120);
        return block === undefined ? tx : withBlock(tx, block);
      },
      gettransactionheight: ([hash]) => {
        const { block } = findTx(hash);
        if (block === undefined) throw new RpcError(-103, 'Unknown transaction');
        return block;
      },
      invokefunction: ([scriptHash, operation, params]) => {
        if (typeof scriptHash !== 'string' || !/^(0x)?[0-9a-fA-F]{40}$/.test(scriptHash) || typeof operation !== 'string') {
          throw new RpcError(-32602, 'Invalid params');
        }
        const script = b64(`neo-invoke:${scriptHash.toLowerCase()}:${operation}:${JSON.stringify(params ?? [])}`, 48);
        const count = reportedHead() + 1;
        if (operation === NEO_ITERATOR_OPERATION) {
          const session = randomUUID();
          const iteratorId = randomUUID();
          const items: string[] = [];
          for (let k = 0; k < 5; k++) items.push(Buffer.from(`token-${count}-${k}`).toString('base64'));
          sessions.set(session, { iteratorId, items, cursor: 0 });
          return invokeResult(script, [{ type: 'InteropInterface', interface: 'IIterator', id: iteratorId }], { session });
        }
        if (operation === NEO_FAULT_OPERATION) {
          return { ...invokeResult(script, []), state: 'FAULT', exception: 'ABORT is executed.' };
        }
        if (operation === 'symbol') return invokeResult(script, [{ type: 'ByteString', value: Buffer.from('MOCK').toString('base64') }]);
        if (operation === 'decimals') return invokeResult(script, [{ type: 'Integer', value: '8' }]);
        return invokeResult(script, [{ type: 'Integer', value: neoInvokeValue(scriptHash, operation, params, count) }]);
      },
      invokescript: ([script]) => {
        if (typeof script !== 'string' || script === '') throw new RpcError(-32602, 'Invalid params');
        return invokeResult(script, [{ type: 'Integer', value: neoInvokeValue('script', script, [], reportedHead() + 1) }]);
      },
      traverseiterator: ([session, iteratorId, count]) => {
        const s = typeof session === 'string' ? sessions.get(session) : undefined;
        if (!s) throw new RpcError(-107, 'Unknown session');
        if (iteratorId !== s.iteratorId) throw new RpcError(-108, 'Unknown iterator');
        const n = typeof count === 'number' && count > 0 ? count : 100;
        const out = s.items.slice(s.cursor, s.cursor + n).map((value) => ({ type: 'ByteString', value }));
        s.cursor += out.length;
        return out;
      },
      // ApplicationLogs plugin (N3 format): one execution per transaction; a transaction still in the
      // mempool (or unknown) has no log yet: -100, as the C# plugin answers.
      getapplicationlog: ([hash]) => {
        const found = typeof hash === 'string' && /^0x[0-9a-fA-F]{64}$/.test(hash) ? applicationLogOf(hash.toLowerCase()) : undefined;
        if (!found) throw new RpcError(-100, 'Unknown transaction/blockhash');
        return found;
      },
      terminatesession: ([session]) => (typeof session === 'string' ? sessions.delete(session) : false),
      getnep17balances: ([address]) => {
        if (typeof address !== 'string' || address === '') throw new RpcError(-32602, 'Invalid params');
        const count = reportedHead() + 1;
        const seed = BigInt(`0x${sha256(`nep17:${address}`).subarray(0, 4).toString('hex')}`);
        return {
          address,
          balance: [
            { assethash: NEO_TOKEN_HASH, name: 'NeoToken', symbol: 'NEO', decimals: '0', amount: String(seed % 1000n + 1n), lastupdatedblock: Math.max(0, count - 100) },
            { assethash: GAS_TOKEN_HASH, name: 'GasToken', symbol: 'GAS', decimals: '8', amount: String(seed * 1000n + BigInt(count) * 50_000_000n), lastupdatedblock: count - 1 },
          ],
        };
      },
      sendrawtransaction: ([raw]) => {
        if (typeof raw !== 'string' || raw === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) throw new RpcError(-32602, 'Invalid params');
        const bytes = Buffer.from(raw, 'base64');
        const hash = neoTransactionHash(bytes);
        recordSent(hash, raw, {
          size: bytes.length,
          version: 0,
          nonce: Number.parseInt(sha256(bytes).subarray(0, 4).toString('hex'), 16),
          sender: neoAddress(`sent:${hash}`),
          sysfee: '997775',
          netfee: '1272390',
          validuntilblock: head + 5760,
          signers: [],
          attributes: [],
          script: raw,
          witnesses: [],
        });
        return { hash };
      },
    };
  }

  // ===========================================================================================
  const parseForCounting = (body: Buffer): { method: string; params: unknown; id: unknown; batchIndex?: number }[] => {
    const p = parseBody(body);
    if (!p.ok) return [];
    const items = Array.isArray(p.value) ? p.value : [p.value];
    return items.map((it, i) => {
      const o = (typeof it === 'object' && it !== null ? it : {}) as { method?: unknown; params?: unknown; id?: unknown };
      return {
        method: typeof o.method === 'string' ? o.method : '<invalid>',
        params: o.params,
        id: o.id,
        ...(Array.isArray(p.value) ? { batchIndex: i } : {}),
      };
    });
  };

  const json = (status: number, value: unknown): MockResponse => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: `${JSON.stringify(value)}\n`,
  });

  const handler = async (req: MockRequest): Promise<MockResponse> => {
    if (req.method !== 'POST') {
      return { status: 405, headers: { 'content-type': 'text/plain' }, body: 'method not allowed\n' };
    }
    const p = parseBody(req.body);
    if (!p.ok) return json(200, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    if (Array.isArray(p.value)) {
      if (p.value.length === 0) return json(200, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'empty batch' } });
      const out: Envelope[] = [];
      for (const item of p.value) {
        const r = await runCall(methods, item);
        if (r) out.push(r);
      }
      return out.length ? json(200, out) : { status: 200, headers: { 'content-type': 'application/json' }, body: '' };
    }
    const r = await runCall(methods, p.value);
    return r ? json(200, r) : { status: 200, headers: { 'content-type': 'application/json' }, body: '' };
  };

  const server = new FaultyServer({
    port: opts.port,
    latencyMs: opts.latencyMs,
    gzip: opts.gzip,
    onRequest: (req) => {
      calls.total += 1;
      httpRequests.push({ headers: { ...req.headers }, body: req.body, at: Date.now() });
      const items = parseForCounting(req.body);
      const p = parseBody(req.body);
      if (p.ok && Array.isArray(p.value)) calls.batches += 1;
      const at = Date.now();
      for (const it of items) {
        calls.rpc += 1;
        calls.byMethod.set(it.method, (calls.byMethod.get(it.method) ?? 0) + 1);
        requests.push({ ...it, at });
      }
      return { rpcMethods: items.map((i) => i.method) };
    },
    handler,
  });
  await server.start();

  return {
    flavor,
    get url() {
      return server.url;
    },
    get port() {
      return server.port;
    },
    get alive() {
      return server.alive;
    },
    get fault() {
      return server.fault;
    },
    get head() {
      return head;
    },
    get reportedHead() {
      return reportedHead();
    },
    chainId,
    calls,
    requests,
    httpRequests,
    sent,
    advance,
    reorg: (depth: number) => {
      if (!evm) throw new Error('reorg: Neo N3 has one-block finality; only the EVM flavor reorgs');
      if (depth < 1 || depth > head) throw new Error(`reorg depth must be 1..${head}`);
      reorgs.push(head - depth + 1);
    },
    blockHashAt,
    txHashAt,
    setFault: (f) => server.setFault(f),
    resetCalls: () => {
      calls.total = 0;
      calls.batches = 0;
      calls.rpc = 0;
      calls.byMethod.clear();
      requests.length = 0;
      httpRequests.length = 0;
    },
    kill: () => server.kill(),
    restart: () => server.restart(),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await server.close();
    },
  };
}
