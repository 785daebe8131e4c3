/**
 * A mock Aptos fullnode REST API (`/v1`) on a real HTTP server, faithful enough that
 * `@aptos-labs/ts-sdk` 6.x works against it (ledger info, accounts, resources, modules, view in JSON
 * and BCS form, balance, transactions by hash/version, wait_by_hash, submit, blocks).
 *
 * The ledger is deterministic: every answer is a pure function of (chain id, version / block height),
 * so two mock nodes with the same chain id at the same version give byte-identical bodies, and the
 * same query at different versions gives different answers (coin balances grow with the version).
 *
 * Ledger model:
 * - Blocks that exist at start (heights `0..floor(version/4)`) hold 4 versions each:
 *   `[block_metadata, user, user, state_checkpoint]` (the last one is cut off at the initial version).
 * - `advance(n)` commits `n` new blocks: `[block_metadata, ...every pending submitted txn, state_checkpoint]`.
 * - Block `h` has timestamp `1_700_000_000_000_000 + h * 250_000` µs, epoch `1 + floor(h / 1000)`.
 * - A `lagBy` fault hides the newest `lagBy` blocks; `prunedBelow` / `oldestVersion` prune the old ones.
 * Submitted transactions do not change balances.
 */
import { createHash } from 'node:crypto';
import { FaultyServer, sleep, type Fault, type FaultableNode, type MockRequest, type MockResponse } from './node-faults.js';

// ---------------------------------------------------------------------------------------------
// Public constants and pure state functions (tests use them to compute expected answers).

export const APTOS_COIN = '0x1::aptos_coin::AptosCoin';
export const APT_COIN_STORE = '0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>';
/** The fungible-asset metadata address of APT (`/v1/accounts/{a}/balance/0xa` is accepted like the coin type). */
export const APT_FA_METADATA = '0xa';
/** `echo<T>(a: u64, b: String): (u64, String, String, u64)` returns `[a, b, T, ledger version]`. */
export const ECHO_VIEW_FUNCTION = '0x1::mock::echo';
export const BALANCE_VIEW_FUNCTION = '0x1::coin::balance';

/** Seeded accounts (long form except the special address 0x1). */
export const APTOS_ACCOUNTS = {
  framework: '0x1',
  alice: `0x${'a11ce'.padStart(64, '0')}`,
  bob: `0x${'b0b'.padStart(64, '0')}`,
} as const;

const COIN_SEEDS = new Map<string, { base: bigint; perVersion: bigint; seqEvery: number }>([
  [APTOS_ACCOUNTS.alice, { base: 1_000_000_000n, perVersion: 7n, seqEvery: 8 }],
  [APTOS_ACCOUNTS.bob, { base: 500_000_000n, perVersion: 3n, seqEvery: 16 }],
]);

/** APT (octas) held by `address` at `version`: what the CoinStore resource, `coin::balance` and `/balance` report. */
export function aptosCoinValue(address: string, version: number): bigint {
  const seed = COIN_SEEDS.get(longAddress(address));
  return seed ? seed.base + seed.perVersion * BigInt(version) : 0n;
}

/** The account's `sequence_number` at `version`. */
export function aptosSequenceNumber(address: string, version: number): number {
  const seed = COIN_SEEDS.get(longAddress(address));
  return seed ? Math.floor(version / seed.seqEvery) : 0;
}

const GENESIS_USEC = 1_700_000_000_000_000n;
const BLOCK_USEC = 250_000n;
const PREHISTORY_BLOCK_SIZE = 4;

// ---------------------------------------------------------------------------------------------
// Options and handle.

export interface AptosNodeOptions {
  port?: number;
  /** Added before every answer. */
  latencyMs?: number;
  /** Commit one block every this many ms (timer is unref'd). */
  autoAdvanceMs?: number;
  /** Default 4 (the local-testnet chain id, so `Network.LOCAL` matches too). */
  chainId?: number;
  /** Initial ledger version (default 1000). */
  version?: number;
  /** Versions below are pruned (default 0). */
  oldestVersion?: number;
  /** A submitted transaction gets committed (one block) this long after submission; default: only by `advance()` / auto-advance. */
  commitDelayMs?: number;
  /** How long `wait_by_hash` waits for a pending transaction before answering it pending (real default 1000). */
  waitByHashTimeoutMs?: number;
  /** Unknown accounts answer `GET /accounts/{a}` with sequence number 0 (stateless accounts, default true) rather than 404. */
  statelessAccounts?: boolean;
  /** gzip answers when the client accepts it (default false). */
  gzip?: boolean;
}

export type AptosRoute =
  | 'ledger_info'
  | 'healthy'
  | 'estimate_gas_price'
  | 'account'
  | 'resources'
  | 'resource'
  | 'modules'
  | 'module'
  | 'balance'
  | 'view'
  | 'transactions'
  | 'transaction_by_hash'
  | 'transaction_by_version'
  | 'wait_by_hash'
  | 'submit'
  | 'submit_batch'
  | 'simulate'
  | 'block_by_height'
  | 'block_by_version'
  | 'unknown';

export interface AptosRequestRecord {
  method: string;
  /** Percent-decoded path. */
  path: string;
  /** Raw query string without `?`. */
  query: string;
  route: AptosRoute;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  at: number;
}

export interface AptosLedgerView {
  /** The node's own head version (ignores `lagBy`). */
  readonly version: number;
  readonly blockHeight: number;
  /** Configured pruning point; settable. The effective one also honours a `prunedBelow` fault. */
  oldestVersion: number;
  /** What the node reports and serves (after `lagBy`). */
  readonly reportedVersion: number;
  readonly reportedBlockHeight: number;
  readonly effectiveOldestVersion: number;
  readonly oldestBlockHeight: number;
  readonly timestampUsec: bigint;
  readonly epoch: number;
  readonly chainId: number;
}

export interface SubmittedAptosTxn {
  hash: string;
  sender: string;
  sequenceNumber: string;
  contentType: string;
  body: Buffer;
  /** Set once committed. */
  version?: number;
}

export interface AptosNodeHandle extends FaultableNode {
  readonly url: string;
  readonly port: number;
  readonly calls: { total: number; byPath: Map<string, number>; byRoute: Map<AptosRoute, number> };
  readonly requests: AptosRequestRecord[];
  readonly ledger: AptosLedgerView;
  /** Transactions received by `POST /v1/transactions(/batch)`, by hash. */
  readonly submitted: ReadonlyMap<string, SubmittedAptosTxn>;
  /** Commit `n` blocks (default 1); pending submitted transactions go into the first. */
  advance(n?: number): { version: number; blockHeight: number };
  setFault(fault: Fault): void;
  readonly fault: Fault;
  /** Zero the counters and clear the request log. */
  resetCalls(): void;
  /** Hash of the transaction at `version` (any kind, including submitted ones once committed). */
  txHashAt(version: number): string;
  /** First and last version of block `height`. */
  blockRange(height: number): { first: number; last: number };
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Addresses, hashing, BCS.

function sha3(...parts: (string | Uint8Array)[]): Buffer {
  const h = createHash('sha3-256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function hashHex(label: string): string {
  return `0x${sha3(label).toString('hex')}`;
}

/** A hash that carries its version in the last 8 bytes, so any node of the same chain can resolve it. */
function versionedHash(kind: string, chainId: number, n: number): string {
  return `0x${sha3(`${kind}:${chainId}:${n}`).subarray(0, 24).toString('hex')}${n.toString(16).padStart(16, '0')}`;
}

function unversionHash(kind: string, chainId: number, hash: string): number | undefined {
  const m = /^0x([0-9a-f]{64})$/.exec(hash);
  if (!m?.[1]) return undefined;
  const n = Number.parseInt(m[1].slice(48), 16);
  return Number.isSafeInteger(n) && versionedHash(kind, chainId, n) === hash ? n : undefined;
}

class InputError extends Error {}

function addressBytes(input: string): Buffer {
  const m = /^(?:0x)?([0-9a-fA-F]{1,64})$/.exec(input.trim());
  if (!m?.[1]) throw new InputError(`invalid account address: ${input}`);
  return Buffer.from(m[1].padStart(64, '0'), 'hex');
}

function longAddress(input: string | Uint8Array): string {
  const b = typeof input === 'string' ? addressBytes(input) : Buffer.from(input);
  return `0x${b.toString('hex')}`;
}

/** AIP-40: special addresses (0x0..0xf) short, everything else long. */
function displayAddress(input: string | Uint8Array): string {
  const b = typeof input === 'string' ? addressBytes(input) : Buffer.from(input);
  const special = b.subarray(0, 31).every((x) => x === 0) && (b[31] ?? 0) < 16;
  return special ? `0x${(b[31] ?? 0).toString(16)}` : `0x${b.toString('hex')}`;
}

class BcsWriter {
  #parts: Buffer[] = [];
  uleb(n: number): this {
    const out: number[] = [];
    let v = n >>> 0;
    do {
      let byte = v & 0x7f;
      v >>>= 7;
      if (v) byte |= 0x80;
      out.push(byte);
    } while (v);
    this.#parts.push(Buffer.from(out));
    return this;
  }
  u8(n: number): this {
    this.#parts.push(Buffer.from([n & 0xff]));
    return this;
  }
  bool(b: boolean): this {
    return this.u8(b ? 1 : 0);
  }
  uint(bits: number, v: bigint): this {
    const b = Buffer.alloc(bits / 8);
    let x = BigInt.asUintN(bits, v);
    for (let i = 0; i < b.length; i++) {
      b[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    this.#parts.push(b);
    return this;
  }
  u64(v: bigint | number): this {
    return this.uint(64, BigInt(v));
  }
  raw(b: Uint8Array): this {
    this.#parts.push(Buffer.from(b));
    return this;
  }
  bytes(b: Uint8Array): this {
    return this.uleb(b.length).raw(b);
  }
  str(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }
  address(a: string | Uint8Array): this {
    return this.raw(typeof a === 'string' ? addressBytes(a) : a);
  }
  done(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

class BcsReader {
  #b: Buffer;
  #o = 0;
  constructor(b: Buffer) {
    this.#b = b;
  }
  get remaining(): number {
    return this.#b.length - this.#o;
  }
  take(n: number): Buffer {
    if (n < 0 || this.#o + n > this.#b.length) throw new InputError('unexpected end of BCS input');
    const out = this.#b.subarray(this.#o, this.#o + n);
    this.#o += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0] ?? 0;
  }
  uleb(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) break;
      shift += 7;
      if (shift > 35) throw new InputError('ULEB128 too long');
    }
    return result;
  }
  uint(bits: number): bigint {
    const b = this.take(bits / 8);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] ?? 0);
    return v;
  }
  bytes(): Buffer {
    return this.take(this.uleb());
  }
  str(): string {
    return this.bytes().toString('utf8');
  }
  address(): Buffer {
    return this.take(32);
  }
}

// Move types --------------------------------------------------------------------------------

type MoveType =
  | { kind: 'prim'; name: string }
  | { kind: 'vector'; inner: MoveType }
  | { kind: 'struct'; address: Buffer; module: string; name: string; args: MoveType[] }
  | { kind: 'generic'; index: number };

const PRIM_TAGS: Record<string, number> = {
  bool: 0, u8: 1, u64: 2, u128: 3, address: 4, signer: 5, u16: 8, u32: 9, u256: 10,
  i8: 11, i16: 12, i32: 13, i64: 14, i128: 15, i256: 16,
};
const PRIM_BY_TAG = new Map(Object.entries(PRIM_TAGS).map(([k, v]) => [v, k]));

function parseMoveType(input: string): MoveType {
  const tokens = input.match(/0x[0-9a-fA-F]+|[A-Za-z_][A-Za-z0-9_]*|::|<|>|,|\S/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const next = (): string => {
    const t = tokens[i++];
    if (t === undefined) throw new InputError(`invalid type: ${input}`);
    return t;
  };
  const expect = (t: string): void => {
    if (next() !== t) throw new InputError(`invalid type: ${input}`);
  };
  const parse = (): MoveType => {
    const head = next();
    if (head === 'vector') {
      expect('<');
      const inner = parse();
      expect('>');
      return { kind: 'vector', inner };
    }
    if (/^T\d+$/.test(head)) return { kind: 'generic', index: Number(head.slice(1)) };
    if (PRIM_TAGS[head] !== undefined) return { kind: 'prim', name: head };
    if (!/^(0x)?[0-9a-fA-F]+$/.test(head) && !/^[A-Za-z_]/.test(head)) throw new InputError(`invalid type: ${input}`);
    const address = addressBytes(head);
    expect('::');
    const module = next();
    expect('::');
    const name = next();
    const args: MoveType[] = [];
    if (peek() === '<') {
      next();
      for (;;) {
        args.push(parse());
        const t = next();
        if (t === '>') break;
        if (t !== ',') throw new InputError(`invalid type: ${input}`);
      }
    }
    return { kind: 'struct', address, module, name, args };
  };
  const t = parse();
  if (i !== tokens.length) throw new InputError(`invalid type: ${input}`);
  return t;
}

function formatMoveType(t: MoveType): string {
  switch (t.kind) {
    case 'prim':
      return t.name;
    case 'vector':
      return `vector<${formatMoveType(t.inner)}>`;
    case 'generic':
      return `T${t.index}`;
    case 'struct': {
      const base = `${displayAddress(t.address)}::${t.module}::${t.name}`;
      return t.args.length ? `${base}<${t.args.map(formatMoveType).join(', ')}>` : base;
    }
  }
}

function canonicalType(s: string): string {
  return formatMoveType(parseMoveType(s));
}

function writeTypeTag(w: BcsWriter, t: MoveType): void {
  switch (t.kind) {
    case 'prim':
      w.uleb(PRIM_TAGS[t.name] ?? 0);
      return;
    case 'vector':
      w.uleb(6);
      writeTypeTag(w, t.inner);
      return;
    case 'struct':
      w.uleb(7).address(t.address).str(t.module).str(t.name).uleb(t.args.length);
      for (const a of t.args) writeTypeTag(w, a);
      return;
    case 'generic':
      throw new InputError('generic type in a type tag');
  }
}

function readTypeTag(r: BcsReader, depth = 0): MoveType {
  if (depth > 16) throw new InputError('type tag too deep');
  const v = r.uleb();
  if (v === 6) return { kind: 'vector', inner: readTypeTag(r, depth + 1) };
  if (v === 7) {
    const address = Buffer.from(r.address());
    const module = r.str();
    const name = r.str();
    const n = r.uleb();
    const args: MoveType[] = [];
    for (let i = 0; i < n; i++) args.push(readTypeTag(r, depth + 1));
    return { kind: 'struct', address, module, name, args };
  }
  const prim = PRIM_BY_TAG.get(v);
  if (!prim) throw new InputError(`unknown type tag variant ${v}`);
  return { kind: 'prim', name: prim };
}

// Move values --------------------------------------------------------------------------------

type MoveValue = bigint | string | boolean | number;

const INT_BITS: Record<string, number> = { u8: 8, u16: 16, u32: 32, u64: 64, u128: 128, u256: 256 };

function isStringType(t: MoveType): boolean {
  return t.kind === 'struct' && t.module === 'string' && t.name === 'String' && displayAddress(t.address) === '0x1';
}

function readArgBcs(t: MoveType, r: BcsReader): MoveValue {
  if (t.kind === 'prim') {
    const bits = INT_BITS[t.name];
    if (bits) return r.uint(bits);
    if (t.name === 'bool') return r.u8() !== 0;
    if (t.name === 'address') return longAddress(r.address());
  }
  if (isStringType(t)) return r.str();
  if (t.kind === 'vector' && t.inner.kind === 'prim' && t.inner.name === 'u8') return `0x${r.bytes().toString('hex')}`;
  return `0x${r.take(r.remaining).toString('hex')}`;
}

function readArgJson(t: MoveType, v: unknown): MoveValue {
  if (t.kind === 'prim') {
    const bits = INT_BITS[t.name];
    if (bits) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new InputError(`expected ${t.name}, got ${JSON.stringify(v)}`);
      let n: bigint;
      try {
        n = BigInt(v);
      } catch {
        throw new InputError(`invalid ${t.name}: ${JSON.stringify(v)}`);
      }
      if (n < 0n || n >= 1n << BigInt(bits)) throw new InputError(`${t.name} out of range: ${String(v)}`);
      return n;
    }
    if (t.name === 'bool') {
      if (typeof v !== 'boolean') throw new InputError(`expected bool, got ${JSON.stringify(v)}`);
      return v;
    }
    if (t.name === 'address') {
      if (typeof v !== 'string') throw new InputError(`expected address, got ${JSON.stringify(v)}`);
      return longAddress(v);
    }
  }
  if (isStringType(t)) {
    if (typeof v !== 'string') throw new InputError(`expected string, got ${JSON.stringify(v)}`);
    return v;
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function jsonValue(t: MoveType, v: MoveValue): unknown {
  if (t.kind === 'prim' && (t.name === 'u8' || t.name === 'u16' || t.name === 'u32')) return Number(v);
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function bcsValue(t: MoveType, v: MoveValue): Buffer {
  const w = new BcsWriter();
  if (t.kind === 'prim') {
    const bits = INT_BITS[t.name];
    if (bits) return w.uint(bits, BigInt(v)).done();
    if (t.name === 'bool') return w.bool(Boolean(v)).done();
    if (t.name === 'address') return w.address(String(v)).done();
  }
  if (isStringType(t)) return w.str(String(v)).done();
  return w.str(String(v)).done();
}

// Modules ------------------------------------------------------------------------------------

interface FunctionDef {
  name: string;
  visibility: 'public' | 'private' | 'friend';
  is_entry: boolean;
  is_view: boolean;
  generic_type_params: { constraints: string[] }[];
  params: string[];
  return: string[];
  run?: (args: MoveValue[], typeArgs: string[], version: number) => MoveValue[];
}

const FRAMEWORK_MODULES: Record<string, FunctionDef[]> = {
  coin: [
    {
      name: 'balance',
      visibility: 'public',
      is_entry: false,
      is_view: true,
      generic_type_params: [{ constraints: [] }],
      params: ['address'],
      return: ['u64'],
      run: (args, typeArgs, version) => [typeArgs[0] === APTOS_COIN ? aptosCoinValue(String(args[0]), version) : 0n],
    },
    {
      name: 'transfer',
      visibility: 'public',
      is_entry: true,
      is_view: false,
      generic_type_params: [{ constraints: [] }],
      params: ['&signer', 'address', 'u64'],
      return: [],
    },
  ],
  aptos_account: [
    {
      name: 'transfer',
      visibility: 'public',
      is_entry: true,
      is_view: false,
      generic_type_params: [],
      params: ['&signer', 'address', 'u64'],
      return: [],
    },
  ],
  mock: [
    {
      name: 'echo',
      visibility: 'public',
      is_entry: false,
      is_view: true,
      generic_type_params: [{ constraints: [] }],
      params: ['u64', '0x1::string::String'],
      return: ['u64', '0x1::string::String', '0x1::string::String', 'u64'],
      run: (args, typeArgs, version) => [args[0] ?? 0n, args[1] ?? '', typeArgs[0] ?? '', BigInt(version)],
    },
  ],
};

function moduleJson(name: string, fns: FunctionDef[]): { bytecode: string; abi: unknown } {
  return {
    bytecode: `0xa11ceb0b0700000a${sha3(`module:${name}`).toString('hex')}`,
    abi: {
      address: '0x1',
      name,
      friends: [],
      exposed_functions: fns.map(({ run: _run, ...f }) => f),
      structs: [],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The node.

interface DynBlock {
  height: number;
  first: number;
  last: number;
  /** Submitted transactions, at versions first+1 .. last-1. */
  txns: SubmittedAptosTxn[];
}

interface ParsedSubmission {
  sender: string;
  sequence_number: string;
  max_gas_amount: string;
  gas_unit_price: string;
  expiration_timestamp_secs: string;
  payload: unknown;
  signature: unknown;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const JSON_CT = 'application/json; charset=utf-8';
const BCS_CT = 'application/x-bcs';
const MIME_BCS_TXN = 'application/x.aptos.signed_transaction+bcs';
const MIME_BCS_VIEW = 'application/x.aptos.view_function+bcs';

/**
 * As the Aptos API does (poem's Accept: media ranges sorted by q-value, stable; then the first
 * that is JSON or BCS; JSON by default). q=0 is "not acceptable".
 */
function wantsBcs(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map((part, order) => {
    const [type = '', ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    return { type, weight: Number.isFinite(weight) ? weight : 0, order };
  });
  const first = ranges
    .filter((r) => r.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.order - b.order)
    .find((r) => r.type === BCS_CT || r.type === 'application/json');
  return first?.type === BCS_CT;
}

function u64Param(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new ApiError(400, 'web_framework_error', `failed to parse query parameter \`${name}\`: invalid u64 ${raw}`);
  }
  return Number(raw);
}

export async function startAptosNode(opts: AptosNodeOptions = {}): Promise<AptosNodeHandle> {
  const chainId = opts.chainId ?? 4;
  const initialVersion = opts.version ?? 1000;
  if (!Number.isSafeInteger(initialVersion) || initialVersion < 0) throw new Error('version must be a non-negative integer');
  const initialHeight = Math.floor(initialVersion / PREHISTORY_BLOCK_SIZE);
  const waitByHashTimeoutMs = opts.waitByHashTimeoutMs ?? 1000;
  const stateless = opts.statelessAccounts ?? true;

  const dyn: DynBlock[] = [];
  const submitted = new Map<string, SubmittedAptosTxn>();
  const submissionDetails = new Map<string, ParsedSubmission>();
  let pending: SubmittedAptosTxn[] = [];
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  let configuredOldest = opts.oldestVersion ?? 0;

  const calls = { total: 0, byPath: new Map<string, number>(), byRoute: new Map<AptosRoute, number>() };
  const requests: AptosRequestRecord[] = [];

  // --- ledger geometry -------------------------------------------------------------------
  const headHeight = (): number => initialHeight + dyn.length;
  const blockRange = (h: number): { first: number; last: number } => {
    if (h <= initialHeight) {
      const first = h * PREHISTORY_BLOCK_SIZE;
      return { first, last: Math.min(first + PREHISTORY_BLOCK_SIZE - 1, initialVersion) };
    }
    const b = dyn[h - initialHeight - 1];
    if (!b) throw new Error(`no block ${h}`);
    return { first: b.first, last: b.last };
  };
  const headVersion = (): number => blockRange(headHeight()).last;
  const blockOfVersion = (v: number): number => {
    if (v <= initialVersion) return Math.floor(v / PREHISTORY_BLOCK_SIZE);
    let lo = 0;
    let hi = dyn.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((dyn[mid]?.last ?? 0) < v) lo = mid + 1;
      else hi = mid;
    }
    return initialHeight + 1 + lo;
  };
  const fault = (): Fault => server.fault;
  const reportedHeight = (): number => Math.max(0, headHeight() - Math.max(0, fault().lagBy ?? 0));
  const reportedVersion = (): number => blockRange(reportedHeight()).last;
  const oldestVersion = (): number =>
    Math.min(reportedVersion(), Math.max(configuredOldest, fault().prunedBelow ?? 0, 0));
  const oldestBlockHeight = (): number => {
    const v = oldestVersion();
    const h = blockOfVersion(v);
    return blockRange(h).first === v ? h : Math.min(h + 1, reportedHeight());
  };
  const blockTimestamp = (h: number): bigint => GENESIS_USEC + BigInt(h) * BLOCK_USEC;
  const epochOf = (h: number): number => 1 + Math.floor(h / 1000);
  const blockHash = (h: number): string => versionedHash('aptos-block', chainId, h);

  const txHashAt = (v: number): string => {
    if (v > initialVersion) {
      const h = blockOfVersion(v);
      const b = dyn[h - initialHeight - 1];
      const t = b?.txns[v - (b?.first ?? 0) - 1];
      if (t) return t.hash;
    }
    return versionedHash('aptos-txn', chainId, v);
  };

  // --- advancing ---------------------------------------------------------------------------
  const advance = (n = 1): { version: number; blockHeight: number } => {
    for (let i = 0; i < n; i++) {
      const first = headVersion() + 1;
      const txns = pending;
      pending = [];
      const height = headHeight() + 1;
      txns.forEach((t, j) => {
        t.version = first + 1 + j;
      });
      dyn.push({ height, first, last: first + txns.length + 1, txns });
    }
    for (const w of [...waiters]) w();
    return { version: headVersion(), blockHeight: headHeight() };
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

  // --- JSON renderers ----------------------------------------------------------------------
  const ledgerInfo = (): Record<string, unknown> => {
    const h = reportedHeight();
    return {
      chain_id: chainId,
      epoch: String(epochOf(h)),
      ledger_version: String(reportedVersion()),
      oldest_ledger_version: String(oldestVersion()),
      ledger_timestamp: String(blockTimestamp(h)),
      node_role: 'full_node',
      oldest_block_height: String(oldestBlockHeight()),
      block_height: String(h),
      git_hash: 'ledgerproxy-mock',
    };
  };

  const ledgerHeaders = (): Record<string, string> => {
    const h = reportedHeight();
    return {
      'x-aptos-chain-id': String(chainId),
      'x-aptos-ledger-version': String(reportedVersion()),
      'x-aptos-ledger-oldest-version': String(oldestVersion()),
      'x-aptos-ledger-timestampusec': String(blockTimestamp(h)),
      'x-aptos-epoch': String(epochOf(h)),
      'x-aptos-block-height': String(h),
      'x-aptos-oldest-block-height': String(oldestBlockHeight()),
    };
  };

  const common = (v: number, kindHash: string): Record<string, unknown> => ({
    version: String(v),
    hash: kindHash,
    state_change_hash: hashHex(`state-change:${chainId}:${v}`),
    event_root_hash: hashHex(`event-root:${chainId}:${v}`),
    state_checkpoint_hash: null as string | null,
    gas_used: '0',
    success: true,
    vm_status: 'Executed successfully',
    accumulator_root_hash: hashHex(`accumulator:${chainId}:${v}`),
    changes: [],
  });

  const renderSubmittedPending = (t: SubmittedAptosTxn): Record<string, unknown> => {
    const d = submissionDetails.get(t.hash);
    return { type: 'pending_transaction', hash: t.hash, ...d };
  };

  const txnAt = (v: number): Record<string, unknown> => {
    const h = blockOfVersion(v);
    const { first, last } = blockRange(h);
    const ts = String(blockTimestamp(h));
    const hash = txHashAt(v);
    if (v === first) {
      return {
        type: 'block_metadata_transaction',
        ...common(v, hash),
        id: blockHash(h),
        epoch: String(epochOf(h)),
        round: String(h),
        events: [],
        previous_block_votes_bitvec: [],
        proposer: longAddress(`0x${sha3(`proposer:${h % 7}`).toString('hex')}`),
        failed_proposer_indices: [],
        timestamp: ts,
      };
    }
    if (v === last) {
      return {
        type: 'state_checkpoint_transaction',
        ...common(v, hash),
        state_checkpoint_hash: hashHex(`checkpoint:${chainId}:${v}`),
        timestamp: ts,
      };
    }
    const sub = v > initialVersion ? dyn[h - initialHeight - 1]?.txns[v - first - 1] : undefined;
    if (sub) {
      const d = submissionDetails.get(sub.hash);
      return { type: 'user_transaction', ...common(v, hash), gas_used: '12', ...d, events: [], timestamp: ts };
    }
    const sender = v % 2 === 0 ? APTOS_ACCOUNTS.alice : APTOS_ACCOUNTS.bob;
    const to = v % 2 === 0 ? APTOS_ACCOUNTS.bob : APTOS_ACCOUNTS.alice;
    return {
      type: 'user_transaction',
      ...common(v, hash),
      gas_used: '6',
      sender,
      sequence_number: String(aptosSequenceNumber(sender, v)),
      max_gas_amount: '200000',
      gas_unit_price: '100',
      expiration_timestamp_secs: String(Number(blockTimestamp(h) / 1_000_000n) + 600),
      payload: {
        type: 'entry_function_payload',
        function: '0x1::aptos_account::transfer',
        type_arguments: [],
        arguments: [to, String(100 + (v % 1000))],
      },
      signature: {
        type: 'ed25519_signature',
        public_key: hashHex(`pk:${sender}`),
        signature: `${hashHex(`sig:${chainId}:${v}`)}${sha3(`sig2:${chainId}:${v}`).toString('hex')}`,
      },
      events: [],
      timestamp: ts,
    };
  };

  const blockJson = (h: number, withTxns: boolean): Record<string, unknown> => {
    const { first, last } = blockRange(h);
    const out: Record<string, unknown> = {
      block_height: String(h),
      block_hash: blockHash(h),
      block_timestamp: String(blockTimestamp(h)),
      first_version: String(first),
      last_version: String(last),
      transactions: null,
    };
    if (withTxns) {
      const txns: unknown[] = [];
      for (let v = first; v <= last; v++) txns.push(txnAt(v));
      out.transactions = txns;
    }
    return out;
  };

  const FRAMEWORK_LONG = longAddress(APTOS_ACCOUNTS.framework);
  const accountKnown = (addr: string): boolean => longAddress(addr) === FRAMEWORK_LONG || COIN_SEEDS.has(longAddress(addr));

  const eventHandle = (addr: string, counter: number, creation: number): unknown => ({
    counter: String(counter),
    guid: { id: { addr, creation_num: String(creation) } },
  });
  const eventHandleBcs = (w: BcsWriter, addr: string, counter: number, creation: number): void => {
    w.u64(counter).u64(creation).address(addr);
  };

  interface Resource {
    type: string;
    data: unknown;
    bcs: Buffer;
  }
  const resourcesAt = (address: string, v: number): Resource[] => {
    const addr = longAddress(address);
    if (!accountKnown(addr)) return [];
    const seq = aptosSequenceNumber(addr, v);
    const shown = displayAddress(addr);
    const accountBcs = new BcsWriter().bytes(addressBytes(addr)).u64(seq).u64(4);
    eventHandleBcs(accountBcs, addr, 1, 0);
    eventHandleBcs(accountBcs, addr, 0, 1);
    accountBcs.u8(0).u8(0); // two empty Option<address>
    const out: Resource[] = [
      {
        type: '0x1::account::Account',
        data: {
          authentication_key: addr,
          coin_register_events: eventHandle(shown, 1, 0),
          guid_creation_num: '4',
          key_rotation_events: eventHandle(shown, 0, 1),
          rotation_capability_offer: { for: { vec: [] } },
          sequence_number: String(seq),
          signer_capability_offer: { for: { vec: [] } },
        },
        bcs: accountBcs.done(),
      },
    ];
    if (addr === FRAMEWORK_LONG) {
      out.push({ type: '0x1::chain_id::ChainId', data: { id: chainId }, bcs: new BcsWriter().u8(chainId).done() });
    } else {
      const value = aptosCoinValue(addr, v);
      const w = new BcsWriter().u64(value).bool(false);
      eventHandleBcs(w, addr, Number(BigInt(v) % 1000n), 2);
      eventHandleBcs(w, addr, Number(BigInt(v) % 500n), 3);
      out.push({
        type: APT_COIN_STORE,
        data: {
          coin: { value: value.toString() },
          deposit_events: eventHandle(shown, Number(BigInt(v) % 1000n), 2),
          frozen: false,
          withdraw_events: eventHandle(shown, Number(BigInt(v) % 500n), 3),
        },
        bcs: w.done(),
      });
    }
    return out;
  };

  // --- request helpers ---------------------------------------------------------------------
  const reply = (req: MockRequest, status: number, json: unknown, bcs?: () => Buffer): MockResponse => {
    if (bcs && wantsBcs(String(req.headers.accept ?? ''))) {
      return { status, headers: { ...ledgerHeaders(), 'content-type': BCS_CT }, body: bcs() };
    }
    return { status, headers: { ...ledgerHeaders(), 'content-type': JSON_CT }, body: JSON.stringify(json) };
  };
  /** BCS for endpoints whose real BCS layout the mock does not model: the JSON text as a BCS `vector<u8>`. */
  const jsonAsBcs = (json: unknown) => (): Buffer => new BcsWriter().str(JSON.stringify(json)).done();
  const errorReply = (e: ApiError): MockResponse => ({
    status: e.status,
    headers: { ...ledgerHeaders(), 'content-type': JSON_CT },
    body: JSON.stringify({ message: e.message, error_code: e.errorCode, vm_error_code: null }),
  });

  const pinnedVersion = (q: URLSearchParams): number => {
    const v = u64Param(q, 'ledger_version');
    if (v === undefined) return reportedVersion();
    if (v > reportedVersion()) {
      throw new ApiError(404, 'version_not_found', `Ledger version(${v}) not found, latest ledger version is ${reportedVersion()}`);
    }
    if (v < oldestVersion()) {
      throw new ApiError(410, 'version_pruned', `Ledger version(${v}) has been pruned, oldest available ledger version is ${oldestVersion()}`);
    }
    return v;
  };

  const parseAddressParam = (s: string): string => {
    try {
      return longAddress(s);
    } catch {
      throw new ApiError(400, 'web_framework_error', `failed to parse path parameter \`address\`: invalid account address ${s}`);
    }
  };

  const findFunction = (fn: string): { def: FunctionDef; module: string } => {
    const parts = fn.split('::');
    if (parts.length !== 3) throw new ApiError(400, 'invalid_input', `Invalid function id: ${fn}`);
    const [addr = '', module = '', name = ''] = parts;
    let isFramework = false;
    try {
      isFramework = displayAddress(addr) === '0x1';
    } catch {
      throw new ApiError(400, 'invalid_input', `Invalid function id: ${fn}`);
    }
    const def = isFramework ? FRAMEWORK_MODULES[module]?.find((f) => f.name === name) : undefined;
    if (!def) {
      throw new ApiError(400, 'invalid_input', `Failed to execute function: FUNCTION_RESOLUTION_FAILURE: function ${fn} does not exist`);
    }
    return { def, module };
  };

  const runView = (
    req: MockRequest,
    fnId: string,
    typeArgs: MoveType[],
    readArgs: (params: MoveType[]) => MoveValue[],
  ): MockResponse => {
    const version = pinnedVersion(req.query);
    const { def } = findFunction(fnId);
    if (!def.is_view || !def.run) throw new ApiError(400, 'invalid_input', `function ${fnId} is not marked as a view function`);
    if (typeArgs.length !== def.generic_type_params.length) {
      throw new ApiError(400, 'invalid_input', `NUMBER_OF_TYPE_ARGUMENTS_MISMATCH: expected ${def.generic_type_params.length}, got ${typeArgs.length}`);
    }
    const params = def.params.map(parseMoveType);
    const args = readArgs(params);
    const out = def.run(args, typeArgs.map(formatMoveType), version);
    const rets = def.return.map(parseMoveType);
    return reply(
      req,
      200,
      out.map((v, i) => jsonValue(rets[i] ?? { kind: 'prim', name: 'u64' }, v)),
      () => {
        const w = new BcsWriter().uleb(out.length);
        out.forEach((v, i) => w.bytes(bcsValue(rets[i] ?? { kind: 'prim', name: 'u64' }, v)));
        return w.done();
      },
    );
  };

  const viewHandler = (req: MockRequest): MockResponse => {
    const ct = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (ct === MIME_BCS_VIEW) {
      let fnId: string;
      let typeArgs: MoveType[];
      let rawArgs: Buffer[];
      try {
        const r = new BcsReader(req.body);
        const addr = r.address();
        const module = r.str();
        const name = r.str();
        const nt = r.uleb();
        typeArgs = [];
        for (let i = 0; i < nt; i++) typeArgs.push(readTypeTag(r));
        const na = r.uleb();
        rawArgs = [];
        for (let i = 0; i < na; i++) rawArgs.push(r.bytes());
        if (r.remaining !== 0) throw new InputError('trailing bytes');
        fnId = `${displayAddress(addr)}::${module}::${name}`;
      } catch (e) {
        throw new ApiError(400, 'invalid_input', `Failed to deserialize input into ViewFunction: ${(e as Error).message}`);
      }
      return runView(req, fnId, typeArgs, (params) => {
        if (rawArgs.length !== params.length) {
          throw new ApiError(400, 'invalid_input', `NUMBER_OF_ARGUMENTS_MISMATCH: expected ${params.length}, got ${rawArgs.length}`);
        }
        return params.map((p, i) => {
          try {
            return readArgBcs(p, new BcsReader(rawArgs[i] ?? Buffer.alloc(0)));
          } catch (e) {
            throw new ApiError(400, 'invalid_input', `FAILED_TO_DESERIALIZE_ARGUMENT: ${(e as Error).message}`);
          }
        });
      });
    }
    if (ct !== 'application/json' && ct !== '') {
      throw new ApiError(415, 'web_framework_error', `unsupported content type ${ct}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch (e) {
      throw new ApiError(400, 'web_framework_error', `parse request payload error: ${(e as Error).message}`);
    }
    const b = body as { function?: unknown; type_arguments?: unknown; arguments?: unknown };
    if (typeof b !== 'object' || b === null || typeof b.function !== 'string' || !Array.isArray(b.type_arguments) || !Array.isArray(b.arguments)) {
      throw new ApiError(400, 'web_framework_error', 'parse request payload error: expected {function, type_arguments, arguments}');
    }
    const jsonArgs = b.arguments as unknown[];
    let typeArgs: MoveType[];
    try {
      typeArgs = (b.type_arguments as unknown[]).map((t) => parseMoveType(String(t)));
    } catch (e) {
      throw new ApiError(400, 'invalid_input', (e as Error).message);
    }
    return runView(req, b.function, typeArgs, (params) => {
      if (jsonArgs.length !== params.length) {
        throw new ApiError(400, 'invalid_input', `NUMBER_OF_ARGUMENTS_MISMATCH: expected ${params.length}, got ${jsonArgs.length}`);
      }
      return params.map((p, i) => {
        try {
          return readArgJson(p, jsonArgs[i]);
        } catch (e) {
          throw new ApiError(400, 'invalid_input', (e as Error).message);
        }
      });
    });
  };

  const parseBcsSubmission = (body: Buffer): ParsedSubmission | undefined => {
    try {
      const r = new BcsReader(body);
      const sender = longAddress(r.address());
      const seq = r.uint(64);
      const variant = r.uleb();
      let payload: unknown = { type: 'unknown_payload', variant };
      if (variant === 2) {
        const addr = r.address();
        const module = r.str();
        const name = r.str();
        const nt = r.uleb();
        const tys: MoveType[] = [];
        for (let i = 0; i < nt; i++) tys.push(readTypeTag(r));
        const na = r.uleb();
        const raw: Buffer[] = [];
        for (let i = 0; i < na; i++) raw.push(r.bytes());
        const fn = `${displayAddress(addr)}::${module}::${name}`;
        const def = displayAddress(addr) === '0x1' ? FRAMEWORK_MODULES[module]?.find((f) => f.name === name) : undefined;
        const params = def?.params.filter((p) => !p.includes('signer')).map(parseMoveType);
        payload = {
          type: 'entry_function_payload',
          function: fn,
          type_arguments: tys.map(formatMoveType),
          arguments: raw.map((a, i) => {
            const p = params?.[i];
            if (!p) return `0x${a.toString('hex')}`;
            const v = readArgBcs(p, new BcsReader(a));
            return jsonValue(p, v);
          }),
        };
      } else {
        return {
          sender,
          sequence_number: seq.toString(),
          max_gas_amount: '0',
          gas_unit_price: '0',
          expiration_timestamp_secs: '0',
          payload,
          signature: { type: 'unknown_signature' },
        };
      }
      const maxGas = r.uint(64);
      const price = r.uint(64);
      const exp = r.uint(64);
      r.u8(); // chain id
      let signature: unknown = { type: 'unknown_signature' };
      if (r.remaining > 0 && r.uleb() === 0) {
        const pk = r.bytes();
        const sig = r.bytes();
        signature = { type: 'ed25519_signature', public_key: `0x${pk.toString('hex')}`, signature: `0x${sig.toString('hex')}` };
      }
      return {
        sender,
        sequence_number: seq.toString(),
        max_gas_amount: maxGas.toString(),
        gas_unit_price: price.toString(),
        expiration_timestamp_secs: exp.toString(),
        payload,
        signature,
      };
    } catch {
      return undefined;
    }
  };

  const TXN_PREFIX = sha3('APTOS::Transaction');

  const submitOne = (contentType: string, body: Buffer, json: unknown): SubmittedAptosTxn => {
    let hash: string;
    let details: ParsedSubmission;
    if (json === undefined) {
      hash = `0x${sha3(TXN_PREFIX, Buffer.from([0]), body).toString('hex')}`;
      details = parseBcsSubmission(body) ?? {
        sender: longAddress('0x0'),
        sequence_number: '0',
        max_gas_amount: '0',
        gas_unit_price: '0',
        expiration_timestamp_secs: '0',
        payload: { type: 'unknown_payload' },
        signature: { type: 'unknown_signature' },
      };
    } else {
      const j = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
      hash = `0x${sha3(TXN_PREFIX, Buffer.from([0]), JSON.stringify(json)).toString('hex')}`;
      let sender = longAddress('0x0');
      try {
        sender = longAddress(String(j.sender ?? '0x0'));
      } catch {
        /* keep 0x0 */
      }
      details = {
        sender,
        sequence_number: String(j.sequence_number ?? '0'),
        max_gas_amount: String(j.max_gas_amount ?? '0'),
        gas_unit_price: String(j.gas_unit_price ?? '0'),
        expiration_timestamp_secs: String(j.expiration_timestamp_secs ?? '0'),
        payload: j.payload ?? { type: 'unknown_payload' },
        signature: j.signature ?? { type: 'unknown_signature' },
      };
    }
    const existing = submitted.get(hash);
    if (existing) return existing;
    const t: SubmittedAptosTxn = { hash, sender: details.sender, sequenceNumber: details.sequence_number, contentType, body };
    submitted.set(hash, t);
    submissionDetails.set(hash, details);
    pending.push(t);
    if (opts.commitDelayMs !== undefined) {
      later(opts.commitDelayMs, () => {
        if (t.version === undefined) advance(1);
      });
    }
    return t;
  };

  const submitHandler = (req: MockRequest, batch: boolean): MockResponse => {
    const ct = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (ct === MIME_BCS_TXN || ct === BCS_CT) {
      if (batch) {
        // A BCS batch is recorded as one opaque submission (the mock does not split SignedTransactions).
        submitOne(ct, req.body, undefined);
        return reply(req, 202, { transaction_failures: [] });
      }
      const t = submitOne(ct, req.body, undefined);
      return reply(req, 202, renderSubmittedPending(t));
    }
    if (ct !== 'application/json' && ct !== '') throw new ApiError(415, 'web_framework_error', `unsupported content type ${ct}`);
    let json: unknown;
    try {
      json = JSON.parse(req.body.toString('utf8'));
    } catch (e) {
      throw new ApiError(400, 'web_framework_error', `parse request payload error: ${(e as Error).message}`);
    }
    if (batch) {
      if (!Array.isArray(json)) throw new ApiError(400, 'web_framework_error', 'parse request payload error: expected an array');
      for (const item of json) submitOne(ct, Buffer.from(JSON.stringify(item)), item ?? {});
      return reply(req, 202, { transaction_failures: [] });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new ApiError(400, 'web_framework_error', 'parse request payload error: expected an object');
    }
    return reply(req, 202, renderSubmittedPending(submitOne(ct, req.body, json)));
  };

  /** The committed form if visible at the reported head, else the pending form; undefined if unknown. */
  const lookupByHash = (hash: string): Record<string, unknown> | undefined => {
    const t = submitted.get(hash);
    if (t) {
      if (t.version !== undefined && t.version <= reportedVersion()) return txnAt(t.version);
      return renderSubmittedPending(t);
    }
    const v = unversionHash('aptos-txn', chainId, hash);
    if (v !== undefined && v <= reportedVersion() && v >= oldestVersion()) return txnAt(v);
    return undefined;
  };

  const hashParam = (s: string): string => {
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(s)) {
      throw new ApiError(400, 'web_framework_error', `failed to parse path parameter \`txn_hash\`: invalid hash ${s}`);
    }
    return `0x${s.replace(/^0x/, '').toLowerCase()}`;
  };

  const notFoundTxn = (hash: string): ApiError =>
    new ApiError(404, 'transaction_not_found', `Transaction not found by Transaction hash(${hash})`);

  const waitByHash = async (req: MockRequest, hash: string): Promise<MockResponse> => {
    const deadline = Date.now() + waitByHashTimeoutMs;
    for (;;) {
      const t = lookupByHash(hash);
      if (!t) throw notFoundTxn(hash);
      const left = deadline - Date.now();
      if (t.type !== 'pending_transaction' || left <= 0) return reply(req, 200, t, jsonAsBcs(t));
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          cleanup();
          resolve();
        };
        const onAbort = (): void => {
          cleanup();
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        };
        const timer = setTimeout(wake, left);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
          req.signal.removeEventListener('abort', onAbort);
        };
        waiters.add(wake);
        req.signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  };

  // --- routing -----------------------------------------------------------------------------
  const routeOf = (method: string, path: string): AptosRoute => {
    const p = path.replace(/\/+$/, '') || '/';
    if (p === '/v1') return 'ledger_info';
    if (p === '/v1/-/healthy') return 'healthy';
    if (p === '/v1/estimate_gas_price') return 'estimate_gas_price';
    if (p === '/v1/view') return 'view';
    if (p === '/v1/transactions') return method === 'POST' ? 'submit' : 'transactions';
    if (p === '/v1/transactions/batch') return 'submit_batch';
    if (p === '/v1/transactions/simulate') return 'simulate';
    if (/^\/v1\/transactions\/by_hash\/[^/]+$/.test(p)) return 'transaction_by_hash';
    if (/^\/v1\/transactions\/wait_by_hash\/[^/]+$/.test(p)) return 'wait_by_hash';
    if (/^\/v1\/transactions\/by_version\/[^/]+$/.test(p)) return 'transaction_by_version';
    if (/^\/v1\/blocks\/by_height\/[^/]+$/.test(p)) return 'block_by_height';
    if (/^\/v1\/blocks\/by_version\/[^/]+$/.test(p)) return 'block_by_version';
    if (/^\/v1\/accounts\/[^/]+$/.test(p)) return 'account';
    if (/^\/v1\/accounts\/[^/]+\/resources$/.test(p)) return 'resources';
    if (/^\/v1\/accounts\/[^/]+\/resource\/.+$/.test(p)) return 'resource';
    if (/^\/v1\/accounts\/[^/]+\/modules$/.test(p)) return 'modules';
    if (/^\/v1\/accounts\/[^/]+\/module\/[^/]+$/.test(p)) return 'module';
    if (/^\/v1\/accounts\/[^/]+\/balance\/.+$/.test(p)) return 'balance';
    return 'unknown';
  };

  const POST_ROUTES = new Set<AptosRoute>(['view', 'submit', 'submit_batch', 'simulate']);

  const handle = async (req: MockRequest): Promise<MockResponse> => {
    try {
      return await dispatch(req);
    } catch (e) {
      if (e instanceof ApiError) return errorReply(e);
      if (e instanceof InputError) return errorReply(new ApiError(400, 'invalid_input', e.message));
      throw e;
    }
  };

  const dispatch = async (req: MockRequest): Promise<MockResponse> => {
    const route = routeOf(req.method, req.path);
    const p = req.path.replace(/\/+$/, '');
    const seg = p.split('/');
    if (route === 'unknown') {
      throw new ApiError(404, 'web_framework_error', `Not Found: ${req.method} ${req.path}`);
    }
    const wantMethod = POST_ROUTES.has(route) ? 'POST' : 'GET';
    if (req.method !== wantMethod && !(wantMethod === 'GET' && req.method === 'HEAD')) {
      throw new ApiError(405, 'web_framework_error', `Method Not Allowed: ${req.method} ${req.path}`);
    }
    const q = req.query;
    switch (route) {
      case 'ledger_info': {
        const info = ledgerInfo();
        return reply(req, 200, info, () => {
          const h = reportedHeight();
          return new BcsWriter()
            .u8(chainId)
            .u64(epochOf(h))
            .u64(reportedVersion())
            .u64(oldestVersion())
            .u64(blockTimestamp(h))
            .uleb(1)
            .u64(oldestBlockHeight())
            .u64(h)
            .u8(1)
            .str('ledgerproxy-mock')
            .done();
        });
      }
      case 'healthy':
        return reply(req, 200, { message: 'aptos-node:ok' });
      case 'estimate_gas_price':
        return reply(req, 200, { deprioritized_gas_estimate: 100, gas_estimate: 100, prioritized_gas_estimate: 150 });
      case 'account': {
        const addr = parseAddressParam(seg[3] ?? '');
        const v = pinnedVersion(q);
        if (!accountKnown(addr) && !stateless) {
          throw new ApiError(404, 'account_not_found', `Account not found by Address(${addr}) and Ledger version(${v})`);
        }
        const seq = aptosSequenceNumber(addr, v);
        return reply(req, 200, { sequence_number: String(seq), authentication_key: addr }, () => {
          const acct = resourcesAt(addr, v)[0];
          return acct ? acct.bcs : new BcsWriter().bytes(addressBytes(addr)).u64(0).u64(0).u64(0).u64(0).address(addr).u64(0).u64(1).address(addr).u8(0).u8(0).done();
        });
      }
      case 'resources': {
        const addr = parseAddressParam(seg[3] ?? '');
        const v = pinnedVersion(q);
        const all = resourcesAt(addr, v);
        const limit = u64Param(q, 'limit') ?? 9999;
        const startRaw = q.get('start');
        const start = startRaw ? Number.parseInt(startRaw.replace(/^0x/, ''), 16) || 0 : 0;
        const page = all.slice(start, start + Math.max(1, limit));
        const res = reply(
          req,
          200,
          page.map((r) => ({ type: r.type, data: r.data })),
          () => {
            const w = new BcsWriter().uleb(page.length);
            for (const r of page) {
              writeTypeTag(w, parseMoveType(r.type));
              w.bytes(r.bcs);
            }
            return w.done();
          },
        );
        if (start + page.length < all.length && res.headers) {
          res.headers['x-aptos-cursor'] = `0x${(start + page.length).toString(16).padStart(4, '0')}`;
        }
        return res;
      }
      case 'resource': {
        const addr = parseAddressParam(seg[3] ?? '');
        const rawType = seg.slice(5).join('/');
        let type: string;
        try {
          type = canonicalType(rawType);
        } catch (e) {
          throw new ApiError(400, 'web_framework_error', `failed to parse path parameter \`resource_type\`: ${(e as Error).message}`);
        }
        const v = pinnedVersion(q);
        const r = resourcesAt(addr, v).find((x) => x.type === type);
        if (!r) {
          throw new ApiError(404, 'resource_not_found', `Resource not found by Address(${addr}), Struct tag(${type}) and Ledger version(${v})`);
        }
        return reply(req, 200, { type: r.type, data: r.data }, () => r.bcs);
      }
      case 'modules': {
        const addr = parseAddressParam(seg[3] ?? '');
        pinnedVersion(q);
        const mods = displayAddress(addr) === '0x1' ? Object.entries(FRAMEWORK_MODULES).map(([n, f]) => moduleJson(n, f)) : [];
        return reply(req, 200, mods, jsonAsBcs(mods));
      }
      case 'module': {
        const addr = parseAddressParam(seg[3] ?? '');
        const name = seg[5] ?? '';
        const v = pinnedVersion(q);
        const fns = displayAddress(addr) === '0x1' ? FRAMEWORK_MODULES[name] : undefined;
        if (!fns) {
          throw new ApiError(404, 'module_not_found', `Module not found by Address(${addr}), Module name(${name}) and Ledger version(${v})`);
        }
        const m = moduleJson(name, fns);
        return reply(req, 200, m, jsonAsBcs(m));
      }
      case 'balance': {
        const addr = parseAddressParam(seg[3] ?? '');
        const asset = seg.slice(5).join('/');
        const v = pinnedVersion(q);
        let isApt = false;
        try {
          isApt = asset.includes('::') ? canonicalType(asset) === APTOS_COIN : displayAddress(asset) === APT_FA_METADATA;
        } catch {
          throw new ApiError(400, 'web_framework_error', `failed to parse path parameter \`asset_type\`: ${asset}`);
        }
        const value = isApt ? aptosCoinValue(addr, v) : 0n;
        // The real node answers a bare JSON number (u64).
        return reply(req, 200, Number(value), () => new BcsWriter().u64(value).done());
      }
      case 'view':
        return viewHandler(req);
      case 'transactions': {
        const limit = Math.min(100, u64Param(q, 'limit') ?? 25);
        const head = reportedVersion();
        const start = u64Param(q, 'start') ?? Math.max(oldestVersion(), head - limit + 1);
        if (start < oldestVersion()) throw new ApiError(410, 'version_pruned', `Ledger version(${start}) has been pruned`);
        if (start > head) throw new ApiError(404, 'version_not_found', `Ledger version(${start}) not found, latest ledger version is ${head}`);
        const out: unknown[] = [];
        for (let v = start; v <= Math.min(head, start + limit - 1); v++) out.push(txnAt(v));
        return reply(req, 200, out, jsonAsBcs(out));
      }
      case 'transaction_by_hash': {
        const hash = hashParam(seg[4] ?? '');
        const t = lookupByHash(hash);
        if (!t) throw notFoundTxn(hash);
        return reply(req, 200, t, jsonAsBcs(t));
      }
      case 'wait_by_hash':
        return waitByHash(req, hashParam(seg[4] ?? ''));
      case 'transaction_by_version': {
        const raw = seg[4] ?? '';
        if (!/^\d+$/.test(raw)) throw new ApiError(400, 'web_framework_error', `failed to parse path parameter \`txn_version\`: ${raw}`);
        const v = Number(raw);
        if (v > reportedVersion()) throw new ApiError(404, 'transaction_not_found', `Transaction not found by Ledger version(${v})`);
        if (v < oldestVersion()) throw new ApiError(410, 'version_pruned', `Ledger version(${v}) has been pruned, oldest available ledger version is ${oldestVersion()}`);
        const t = txnAt(v);
        return reply(req, 200, t, jsonAsBcs(t));
      }
      case 'block_by_height':
      case 'block_by_version': {
        const raw = seg[4] ?? '';
        if (!/^\d+$/.test(raw)) throw new ApiError(400, 'web_framework_error', `failed to parse path parameter: ${raw}`);
        const n = Number(raw);
        let h: number;
        if (route === 'block_by_height') {
          if (n > reportedHeight()) throw new ApiError(404, 'block_not_found', `Block not found by Block height(${n})`);
          h = n;
        } else {
          if (n > reportedVersion()) throw new ApiError(404, 'block_not_found', `Block not found by Ledger version(${n})`);
          if (n < oldestVersion()) throw new ApiError(410, 'version_pruned', `Ledger version(${n}) has been pruned`);
          h = blockOfVersion(n);
        }
        if (h < oldestBlockHeight()) throw new ApiError(410, 'block_pruned', `Block(${h}) has been pruned, oldest available block height is ${oldestBlockHeight()}`);
        const b = blockJson(h, q.get('with_transactions') === 'true');
        return reply(req, 200, b, jsonAsBcs(b));
      }
      case 'submit':
        return submitHandler(req, false);
      case 'submit_batch':
        return submitHandler(req, true);
      case 'simulate': {
        const ct = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        let details: ParsedSubmission | undefined;
        if (ct === 'application/json') {
          try {
            const j = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
            details = { sender: String(j.sender ?? '0x0'), sequence_number: String(j.sequence_number ?? '0'), max_gas_amount: String(j.max_gas_amount ?? '0'), gas_unit_price: String(j.gas_unit_price ?? '0'), expiration_timestamp_secs: String(j.expiration_timestamp_secs ?? '0'), payload: j.payload, signature: j.signature };
          } catch {
            throw new ApiError(400, 'web_framework_error', 'parse request payload error');
          }
        } else {
          details = parseBcsSubmission(req.body);
        }
        const v = reportedVersion() + 1;
        const sim = [{ type: 'user_transaction', ...common(v, `0x${sha3(TXN_PREFIX, Buffer.from([0]), req.body).toString('hex')}`), gas_used: '12', ...details, events: [], timestamp: String(blockTimestamp(reportedHeight())) }];
        return reply(req, 200, sim);
      }
      default:
        throw new ApiError(404, 'web_framework_error', `Not Found: ${req.path}`);
    }
  };

  const server = new FaultyServer({
    port: opts.port,
    latencyMs: opts.latencyMs,
    gzip: opts.gzip,
    onRequest: (req) => {
      const route = routeOf(req.method, req.path);
      calls.total += 1;
      calls.byPath.set(req.path, (calls.byPath.get(req.path) ?? 0) + 1);
      calls.byRoute.set(route, (calls.byRoute.get(route) ?? 0) + 1);
      requests.push({
        method: req.method,
        path: req.path,
        query: req.query.toString(),
        route,
        headers: { ...req.headers },
        body: req.body,
        at: Date.now(),
      });
    },
    handler: handle,
  });
  await server.start();

  const ledger: AptosLedgerView = {
    get version() {
      return headVersion();
    },
    get blockHeight() {
      return headHeight();
    },
    get oldestVersion() {
      return configuredOldest;
    },
    set oldestVersion(v: number) {
      configuredOldest = v;
    },
    get reportedVersion() {
      return reportedVersion();
    },
    get reportedBlockHeight() {
      return reportedHeight();
    },
    get effectiveOldestVersion() {
      return oldestVersion();
    },
    get oldestBlockHeight() {
      return oldestBlockHeight();
    },
    get timestampUsec() {
      return blockTimestamp(reportedHeight());
    },
    get epoch() {
      return epochOf(reportedHeight());
    },
    get chainId() {
      return chainId;
    },
  };

  return {
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
    calls,
    requests,
    ledger,
    submitted,
    advance,
    setFault: (f) => server.setFault(f),
    resetCalls: () => {
      calls.total = 0;
      calls.byPath.clear();
      calls.byRoute.clear();
      requests.length = 0;
    },
    txHashAt,
    blockRange,
    kill: () => server.kill(),
    restart: () => server.restart(),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await server.close();
    },
  };
}

/** Re-exported for tests that want to wait on something without a timer leak. */
export { sleep };
