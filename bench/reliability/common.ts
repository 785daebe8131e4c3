// Shared by the reliability runs (bench/reliability/fuzz.ts, soak.ts) and the CI abuse test
// (test/e2e/abuse.test.ts): the proxy as its own process (killed by pid whatever happens), a raw
// HTTP/1.1 client that can send anything (smuggling-style framing, invalid bytes, half requests)
// and parses exactly what comes back, the fuzz case generator and the answer checker, and small
// statistics helpers. Every loop here is bounded; every socket and process is closed by its owner.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { freePort } from '../lib/proc.js';

/** The repository root (this file is bench/reliability/common.ts). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// =============================================================================================
// The proxy as a child process.

export interface ProxyProcess {
  readonly pid: number;
  readonly trafficPort: number;
  readonly adminPort: number;
  /** http://127.0.0.1:PORT (traffic) */
  readonly url: string;
  readonly adminUrl: string;
  readonly configFile: string;
  /** How it was started (for reports): `node dist/src/main.js` or `node --import tsx src/main.ts`. */
  readonly command: string;
  /** Resolves when the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** VmRSS in bytes (undefined once gone). */
  rss(): number | undefined;
  /** Sends a signal (by pid). */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (or `sig`), SIGKILL after timeoutMs; resolves once gone. Idempotent. */
  stop(sig?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the process printed (stdout and stderr). */
  logTail(lines?: number): string;
}

const liveProcs = new Set<ChildProcess>();
let reaperInstalled = false;

function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  // Should the runner die (an exception, tap's timeout, Ctrl-C), no proxy is left behind.
  process.on('exit', killAllChildren);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllChildren();
      process.exit(130);
    });
  }
}

/** SIGKILL, by pid, every proxy process this module started that is still running. */
export function killAllChildren(): void {
  for (const child of liveProcs) {
    try {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveProcs.clear();
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * How to run the proxy from `root`: the compiled `dist/src/main.js` when it exists and is newer than
 * every file in src/ (what `npm run build` gives, and what production runs), else the TypeScript
 * through tsx, so a test never measures a stale build.
 */
export function proxyCommand(root = ROOT, opts: { requireDist?: boolean } = {}): { args: string[]; label: string } {
  const dist = join(root, 'dist/src/main.js');
  let fresh = false;
  try {
    fresh = statSync(dist).mtimeMs >= newestMtime(join(root, 'src'));
  } catch {
    fresh = false;
  }
  if (fresh || opts.requireDist) {
    if (!fresh && opts.requireDist) {
      try {
        statSync(dist);
      } catch {
        throw new Error(`${dist} is missing: run \`npm run build\` first`);
      }
    }
    return { args: [dist], label: `node ${dist}${fresh ? '' : ' (older than src/)'}` };
  }
  return { args: ['--import', 'tsx', join(root, 'src/main.ts')], label: `node --import tsx ${join(root, 'src/main.ts')}` };
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
// One free-port helper for all of bench/ (bench/lib/proc.ts).
export { freePort };

export interface StartProxyOptions {
  /** Config YAML without the `server:` listen/admin lines: `serverExtra` goes inside `server:`. */
  body: string;
  /** Extra keys inside `server:` (e.g. `maxBodyBytes: 65536`), one per line, no indentation. */
  serverExtra?: string[];
  root?: string;
  requireDist?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Wait for /readyz 200 (every group has a node with a known head), not just /healthz. Default true. */
  waitReady?: boolean;
  startTimeoutMs?: number;
}

export async function startProxyProcess(opts: StartProxyOptions): Promise<ProxyProcess> {
  installReaper();
  const root = opts.root ?? ROOT;
  const [trafficPort, adminPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'lp-rel-'));
  const configFile = join(dir, 'proxy.config.yaml');
  const server = [`  listen: 127.0.0.1:${trafficPort}`, `  admin: 127.0.0.1:${adminPort}`, ...(opts.serverExtra ?? []).map((l) => `  ${l}`)];
  writeFileSync(configFile, `server:\n${server.join('\n')}\n${opts.body}\n`);
  const cmd = proxyCommand(root, { requireDist: opts.requireDist });
  const child = spawn(process.execPath, [...cmd.args, '--config', configFile], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: process.env['PROXY_LOG_LEVEL'] ?? 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not start the proxy');
  const pid = child.pid;
  liveProcs.add(child);
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
      if (tail.length > 300) tail.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      running = false;
      liveProcs.delete(child);
      rmSync(dir, { recursive: true, force: true });
      res({ code, signal });
    });
  });
  const proc: ProxyProcess = {
    pid,
    trafficPort,
    adminPort,
    url: `http://127.0.0.1:${trafficPort}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    configFile,
    command: cmd.label,
    exited,
    isRunning: () => running,
    rss: () => procRss(pid),
    signal(sig) {
      if (running) process.kill(pid, sig);
    },
    async stop(sig = 'SIGTERM', timeoutMs = 5000) {
      if (running) {
        try {
          process.kill(pid, sig);
        } catch {
          // gone meanwhile
        }
        const timer = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }, timeoutMs);
        const out = await exited;
        clearTimeout(timer);
        return out;
      }
      return exited;
    },
    logTail: (n = 30) => tail.slice(-n).join('\n'),
  };
  try {
    const until = Date.now() + (opts.startTimeoutMs ?? 20_000);
    const path = opts.waitReady === false ? '/healthz' : '/readyz';
    for (;;) {
      if (!running) throw new Error(`the proxy exited while starting:\n${proc.logTail()}`);
      const r = await simpleGet(adminPort, path, 1000).catch(() => undefined);
      if (r?.status === 200) break;
      if (Date.now() > until) throw new Error(`the proxy was not ready within ${opts.startTimeoutMs ?? 20_000} ms:\n${proc.logTail()}`);
      await sleep(50);
    }
  } catch (err) {
    await proc.stop('SIGKILL');
    throw err;
  }
  return proc;
}

/** Resident set size of a process in bytes (VmRSS); undefined when it is gone. */
export function procRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

// =============================================================================================
// A raw HTTP/1.1 client: bytes out, bytes in, every response on the connection parsed.

export interface RawResponse {
  status: number;
  /** Lower-case names, in order. */
  headers: Array<[string, string]>;
  body: Buffer;
}

export function header(r: RawResponse, name: string): string | undefined {
  return r.headers.find(([n]) => n === name)?.[1];
}

export interface ExchangeResult {
  responses: RawResponse[];
  /** The server closed (or reset) the connection. */
  closed: boolean;
  reset: boolean;
  /** Bytes after the last complete response (a truncated answer). */
  leftover: number;
  /** No complete answer came in time (the exchange was cut by us). */
  timedOut: boolean;
  /** The connection could not be made. */
  connectError?: string;
  ms: number;
}

export interface ExchangeOptions {
  /** Responses to wait for; once that many arrived, wait `lingerMs` for extra bytes, then close. */
  expect?: number;
  lingerMs?: number;
  timeoutMs?: number;
  /** Requests that were HEAD, in order (their responses carry no body). */
  headFlags?: boolean[];
  /** Write the bytes in pieces with a pause between them (slow client). */
  chunks?: Buffer[];
  chunkDelayMs?: number;
  /** Close our side right after writing (a client that gives up). */
  abortAfterWrite?: boolean;
}

/**
 * Opens a connection, writes `bytes`, collects responses until `expect` have arrived (plus a linger
 * for unexpected extra ones), the server closes, or the timeout passes. Always destroys the socket.
 */
export function rawExchange(port: number, bytes: Buffer, opts: ExchangeOptions = {}): Promise<ExchangeResult> {
  const expect = opts.expect ?? 1;
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf: Buffer = Buffer.alloc(0);
    let closed = false;
    let reset = false;
    let finished = false;
    let lingerTimer: NodeJS.Timeout | undefined;
    let connectError: string | undefined;
    const finish = (timedOut: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (lingerTimer) clearTimeout(lingerTimer);
      sock.destroy();
      const parsed = parseResponses(buf, opts.headFlags ?? [], closed);
      resolvePromise({
        responses: parsed.responses,
        closed,
        reset,
        leftover: parsed.leftover,
        timedOut: timedOut && parsed.responses.length < expect,
        ms: performance.now() - started,
        ...(connectError ? { connectError } : {}),
      });
    };
    const timer = setTimeout(() => finish(true), opts.timeoutMs ?? 10_000);
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      if (buf.length > 64 * 1024 * 1024) return finish(false);
      const n = parseResponses(buf, opts.headFlags ?? [], false).responses.length;
      if (n >= expect && !lingerTimer) {
        const linger = opts.lingerMs ?? 0;
        if (linger <= 0) finish(false);
        else lingerTimer = setTimeout(() => finish(false), linger);
      }
    });
    sock.on('end', () => {
      closed = true;
      finish(false);
    });
    sock.on('close', () => {
      closed = true;
      finish(false);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') reset = true;
      else if (buf.length === 0) connectError = err.code ?? err.message;
      closed = true;
      finish(false);
    });
    sock.once('connect', () => {
      void (async () => {
        try {
          if (opts.chunks) {
            for (const c of opts.chunks) {
              if (finished || sock.destroyed) return;
              sock.write(c);
              await sleep(opts.chunkDelayMs ?? 0);
            }
          } else {
            sock.write(bytes);
          }
          if (opts.abortAfterWrite) setTimeout(() => finish(false), 20);
        } catch {
          // the socket went away while writing: reported through 'close'
        }
      })();
    });
  });
}

/** Parses consecutive HTTP/1.1 responses (1xx interim answers skipped). */
export function parseResponses(buf: Buffer, headFlags: boolean[], eof: boolean): { responses: RawResponse[]; leftover: number } {
  const responses: RawResponse[] = [];
  let pos = 0;
  let reqIndex = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const head = buf.toString('latin1', pos, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!m?.[1]) break;
    const status = Number(m[1]);
    const headers: Array<[string, string]> = [];
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
    }
    let p = end + 4;
    if (status >= 100 && status < 200) {
      pos = p;
      continue;
    }
    const isHead = headFlags[reqIndex] === true;
    const te = headers.find(([n]) => n === 'transfer-encoding')?.[1];
    const cl = headers.find(([n]) => n === 'content-length')?.[1];
    let body: Buffer;
    if (isHead || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (te !== undefined && /chunked/i.test(te)) {
      const chunks: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', p);
        if (lineEnd < 0) break;
        const size = Number.parseInt(buf.toString('latin1', p, lineEnd).split(';')[0] ?? '', 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          // Optional trailer lines, then an empty line.
          const trailerEnd = buf.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd >= 0) {
            p = trailerEnd + 4;
            complete = true;
          }
          break;
        }
        if (buf.length < lineEnd + 2 + size + 2) break;
        chunks.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(chunks);
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (!Number.isSafeInteger(n) || buf.length < p + n) break;
      body = buf.subarray(p, p + n);
      p += n;
    } else {
      // Delimited by the close of the connection.
      if (!eof) break;
      body = buf.subarray(p);
      p = buf.length;
    }
    responses.push({ status, headers, body });
    pos = p;
    reqIndex++;
  }
  return { responses, leftover: buf.length - pos };
}

/** A GET on a fresh connection; resolves with status and body, rejects on a connection failure. */
export async function simpleGet(port: number, path: string, timeoutMs = 5000): Promise<RawResponse> {
  const r = await rawExchange(port, Buffer.from(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`), { timeoutMs });
  const first = r.responses[0];
  if (!first) throw new Error(r.connectError ?? (r.timedOut ? 'timeout' : 'no response'));
  return first;
}

/** Builds request bytes. A `body` gets a content-length unless the headers already frame it. */
export function buildRequest(method: string, target: string, headers: Array<[string, string]>, body?: Buffer): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`];
  const names = new Set(headers.map(([n]) => n.toLowerCase()));
  if (!names.has('host')) lines.push('host: 127.0.0.1');
  for (const [n, v] of headers) lines.push(`${n}: ${v}`);
  if (body !== undefined && !names.has('content-length') && !names.has('transfer-encoding')) lines.push(`content-length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

// =============================================================================================
// Deterministic randomness.

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  /** [0, 1) — mulberry32 */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i++) s += this.int(0, 255).toString(16).padStart(2, '0');
    return s;
  }
}

// =============================================================================================
// Fuzz cases.

/** What the fuzzed proxy looks like (see fuzzProxyConfig). */
export interface FuzzTarget {
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxBatchLength: number;
  maxHeaderBytes: number;
  requestTimeoutMs: number;
  /** Versions / blocks the mock nodes have (so valid cases can be built). */
  aptosVersion: number;
  evmHead: number;
  neoHead: number;
}

export const FUZZ_TARGET: FuzzTarget = {
  maxBodyBytes: 65_536,
  maxJsonDepth: 32,
  maxBatchLength: 50,
  maxHeaderBytes: 16_384,
  requestTimeoutMs: 3_000,
  aptosVersion: 100_000,
  evmHead: 5_000,
  neoHead: 5_000,
};

/** The proxy config for a fuzz run: one Aptos, one EVM and one Neo route over the given nodes. */
export function fuzzProxyConfig(nodes: { aptos: string; evm: string; neo: string }, t: FuzzTarget = FUZZ_TARGET): StartProxyOptions {
  return {
    serverExtra: [
      `maxBodyBytes: ${t.maxBodyBytes}`,
      `maxHeaderBytes: ${t.maxHeaderBytes}`,
      `requestTimeoutMs: ${t.requestTimeoutMs}`,
      'shutdown: { drainDelayMs: 0, deadlineMs: 2000 }',
    ],
    body: `log: { level: warn, requests: silent }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${nodes.aptos}, timeouts: { headersMs: 2000, bodyMs: 2000 }, head: { pollIntervalMs: 1000 } }
  evm: { dialect: evm-jsonrpc, primary: ${nodes.evm}, timeouts: { headersMs: 2000, bodyMs: 2000 }, head: { pollIntervalMs: 1000 } }
  neo: { dialect: neo-jsonrpc, primary: ${nodes.neo}, timeouts: { headersMs: 2000, bodyMs: 2000 }, head: { pollIntervalMs: 1000 } }
routes:
  - { name: aptos, match: { pathPrefix: /v1 }, upstream: aptos }
  - { name: evm, match: { pathPrefix: /evm }, upstream: evm, stripPrefix: true }
  - { name: neo, match: { pathPrefix: /neo }, upstream: neo, stripPrefix: true }
cache:
  memory: { maxBytes: 16777216, maxEntryBytes: 262144 }
limits: { maxJsonDepth: ${t.maxJsonDepth}, maxBatchLength: ${t.maxBatchLength} }
`,
  };
}

export type Dialect = 'aptos' | 'jsonrpc' | 'none';

export interface FuzzCase {
  n: number;
  /** Family and variant, for the report (e.g. `rpc-odd-id/object`). */
  category: string;
  /** Whose error shape applies to the answer. */
  dialect: Dialect;
  bytes: Buffer;
  /** Pieces written with a pause (slow client), instead of `bytes` at once. */
  chunks?: Buffer[];
  chunkDelayMs?: number;
  head?: boolean;
  /**
   * `one`: exactly one complete response on the connection (plus a linger that would reveal a
   * smuggled second one); `one-or-close`: at most one, the server may close instead (CONNECT, half
   * requests, upgrades the node refuses); `any`: we abort early, only the proxy's survival counts;
   * `two`: a keep-alive follow-up — one or two responses, never more, the second must be a 200.
   */
  expect: 'one' | 'one-or-close' | 'any' | 'two';
  lingerMs?: number;
  timeoutMs: number;
  abortAfterWrite?: boolean;
  /** JSON-RPC: the ids the answer must echo, in order (undefined: not checked). */
  rpcIds?: unknown[];
  /** JSON-RPC: the request was a batch document (the answer is an array unless the batch itself was refused). */
  rpcBatch?: boolean;
  /** JSON-RPC: only notifications (empty answer allowed). */
  rpcAllNotifications?: boolean;
  /** A marker the upstream nodes must never see (smuggling-style cases). */
  marker?: string;
}

const ADDR = `0x${'a11ce'.padStart(64, '0')}`;
const COIN_STORE = '0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>';
const EVM_ADDR = '0x00000000000000000000000000000000000000bb';

const HUGE_NUMBERS = ['1e999999', '-1e999999', '1e-999999', '9'.repeat(400), `-${'9'.repeat(400)}`, '123456789012345678901234567890', '-0', '0.0000000000000000000001', '1E+308', '18446744073709551616'];
const BROKEN_JSON = [
  '', ' ', '{', '}', '[', ']', '{"jsonrpc":"2.0"', '{"jsonrpc":"2.0",}', "{'jsonrpc':'2.0'}", '{jsonrpc:"2.0"}', 'nul', 'tru', 'NaN', 'Infinity', '-', '01', '1.', '.5', '+1',
  '{"a":1,,"b":2}', '[1,]', '[,1]', '{"a" 1}', '{"a":}', '"unterminated', '"\\x41"', '"\\u12"', '"tab\there"', '/* comment */ {}', '{"a":1} // c', '\ufeff{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
  '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}', '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"} x', '\u0000', '{"a":"\u0001"}', '{"__proto__":{"polluted":1},"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
];
const WRONG_VALUES = ['null', 'true', 'false', '0', '-1', '1.5', '""', '"0x"', '"0xZZ"', '"latest"', '"pending"', '"earliest"', '[]', '{}', '[[[]]]', '{"a":{"b":{}}}', `"${'x'.repeat(3000)}"`, '"0x' + 'f'.repeat(64) + '"', '"0x' + 'f'.repeat(400) + '"', '1e999', '"\\ud800"', '"\\u0000"', '{"blockHash":"0x1"}', '{"blockNumber":"0x1","blockHash":"0x2"}', '{"blockHash":"0x' + '0'.repeat(64) + '","requireCanonical":"yes"}'];
const ODD_IDS = ['{}', '[]', '{"a":1}', '[1,2]', 'true', 'false', '1.5', '-0', '1e999', '9'.repeat(400), 'null', '""', '"\\u0000"', '"\\"quoted\\" \\\\ back"', '"😀"', '"\\ud83d"', '-1', '0', '"0"'];
const EVM_METHODS: Array<[string, string[]]> = [
  ['eth_getBalance', [`"${EVM_ADDR}"`, '"latest"']],
  ['eth_call', [`{"to":"${EVM_ADDR}","data":"0x1234"}`, '"latest"']],
  ['eth_getCode', [`"${EVM_ADDR}"`, '"0x10"']],
  ['eth_getStorageAt', [`"${EVM_ADDR}"`, '"0x0"', '"latest"']],
  ['eth_getTransactionCount', [`"${EVM_ADDR}"`, '"latest"']],
  ['eth_getBlockByNumber', ['"0x10"', 'false']],
  ['eth_getBlockByHash', ['"0x' + '0'.repeat(64) + '"', 'false']],
  ['eth_getTransactionByHash', ['"0x' + '1'.repeat(64) + '"']],
  ['eth_getTransactionReceipt', ['"0x' + '2'.repeat(64) + '"']],
  ['eth_getLogs', ['{"fromBlock":"0x1","toBlock":"0x2"}']],
  ['eth_blockNumber', []],
  ['eth_chainId', []],
  ['eth_estimateGas', [`{"to":"${EVM_ADDR}"}`]],
  ['eth_sendRawTransaction', ['"0xdeadbeef"']],
  ['eth_feeHistory', ['"0x4"', '"latest"', '[25,75]']],
];
const NEO_METHODS: Array<[string, string[]]> = [
  ['getblockcount', []],
  ['getblockhash', ['10']],
  ['getblock', ['10', '0']],
  ['getrawtransaction', ['"0x' + '3'.repeat(64) + '"', '0']],
  ['invokefunction', ['"0xef4073a0f2b305a38ec4050e4d3d28bc40ea63f5"', '"symbol"', '[]']],
  ['getnep17balances', ['"NfgHwwTi3wHAS8aFAN243C5vGbkYDpqLHP"']],
  ['sendrawtransaction', ['"AAAA"']],
];

function rpcCallText(method: string, params: string[] | string | undefined, id: string | undefined, jsonrpc = '"2.0"'): string {
  const parts = [`"jsonrpc":${jsonrpc}`];
  if (id !== undefined) parts.push(`"id":${id}`);
  parts.push(`"method":${JSON.stringify(method)}`);
  if (params !== undefined) parts.push(`"params":${Array.isArray(params) ? `[${params.join(',')}]` : params}`);
  return `{${parts.join(',')}}`;
}

function nest(depth: number, kind: 'array' | 'object', inner = '1'): string {
  return kind === 'array' ? '['.repeat(depth) + inner + ']'.repeat(depth) : '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
}

const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0x80])];

/** One fuzz case, a pure function of (seed, n). */
export function makeFuzzCase(seed: number, n: number, t: FuzzTarget = FUZZ_TARGET): FuzzCase {
  const rng = new Rng((seed * 1_000_003 + n * 7919) >>> 0);
  const r = rng.next();
  // Weights: JSON-RPC bodies 45 %, Aptos 27 %, HTTP framing 18 %, valid requests 10 %.
  if (r < 0.45) return rpcCase(rng, n, t);
  if (r < 0.72) return aptosCase(rng, n, t);
  if (r < 0.9) return httpCase(rng, n, t);
  return validCase(rng, n, t);
}

function jsonPost(path: string, body: Buffer | string, extraHeaders: Array<[string, string]> = [], contentType = 'application/json'): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers: Array<[string, string]> = contentType === '' ? [] : [['content-type', contentType]];
  return buildRequest('POST', path, [...headers, ...extraHeaders], b);
}

function rpcPath(rng: Rng): { path: string; neo: boolean } {
  const neo = rng.chance(0.3);
  return { path: neo ? '/neo' : '/evm', neo };
}

function baseCase(n: number, category: string, dialect: Dialect, bytes: Buffer, extra: Partial<FuzzCase> = {}): FuzzCase {
  return { n, category, dialect, bytes, expect: 'one', timeoutMs: 10_000, ...extra };
}

function rpcCase(rng: Rng, n: number, t: FuzzTarget): FuzzCase {
  const { path, neo } = rpcPath(rng);
  const methods = neo ? NEO_METHODS : EVM_METHODS;
  const [method, params] = rng.pick(methods);
  const kind = rng.int(0, 10);
  const c = (variant: string, body: Buffer | string, extra: Partial<FuzzCase> = {}, headers: Array<[string, string]> = [], ct = 'application/json') =>
    baseCase(n, `rpc-${variant}`, 'jsonrpc', jsonPost(path, body, headers, ct), extra);
  switch (kind) {
    case 0: {
      // Broken JSON: a fixed list, a truncated valid call, or a valid call with a byte flipped.
      const valid = rpcCallText(method, params, String(n));
      const v = rng.int(0, 2);
      if (v === 0) return c('broken-json/list', rng.pick(BROKEN_JSON));
      if (v === 1) return c('broken-json/truncated', valid.slice(0, rng.int(0, valid.length - 1)));
      const b = Buffer.from(valid);
      b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      return c('broken-json/flipped', b);
    }
    case 1: {
      // Huge numbers as id, as a param, as jsonrpc.
      const num = rng.pick(HUGE_NUMBERS);
      const v = rng.int(0, 3);
      if (v === 0) return c('huge-number/id', rpcCallText(method, params, num), { rpcIds: [JSON.parse(num)] });
      if (v === 1 && params.length > 0) {
        const p = params.slice();
        p[rng.int(0, p.length - 1)] = num;
        return c('huge-number/param', rpcCallText(method, p, '1'), { rpcIds: [1] });
      }
      if (v === 2) return c('huge-number/block-tag', rpcCallText('eth_getBalance', [`"${EVM_ADDR}"`, `"0x${'f'.repeat(rng.int(17, 400))}"`], '1'), { rpcIds: [1] });
      return c('huge-number/jsonrpc', rpcCallText(method, params, '1', num));
    }
    case 2: {
      // Deep nesting around the limit and far beyond it, as the document or inside params.
      const depth = rng.pick([t.maxJsonDepth - 2, t.maxJsonDepth - 1, t.maxJsonDepth, t.maxJsonDepth + 1, t.maxJsonDepth * 4, 1000, 10_000, 30_000]);
      const kindN = rng.chance(0.5) ? 'array' : 'object';
      const v = rng.int(0, 2);
      if (v === 0) return c(`deep/document-${kindN}`, nest(depth, kindN));
      if (v === 1) return c(`deep/param-${kindN}`, rpcCallText(method, [nest(depth, kindN)], '1'));
      return c(`deep/batch`, `[${rpcCallText(method, [nest(Math.min(depth, 20_000), kindN)], '1')}]`);
    }
    case 3: {
      // Wrong types at every param position, params of the wrong kind, method/jsonrpc of the wrong type.
      const v = rng.int(0, 3);
      if (v === 0 && params.length > 0) {
        const p = params.slice();
        const i = rng.int(0, p.length - 1);
        p[i] = rng.pick(WRONG_VALUES);
        return c(`wrong-type/param${i}`, rpcCallText(method, p, '7'), { rpcIds: [7] });
      }
      if (v === 1) return c('wrong-type/params', rpcCallText(method, rng.pick(['"x"', '1', 'true', 'null', '{"a":1}', '[null]', '[[]]']), '7'), { rpcIds: [7] });
      if (v === 2) {
        const m = rng.pick(['1', 'null', '[]', '{}', '""', `"${'m'.repeat(5000)}"`, '"eth_call\\u0000"', '"constructor"', '"__proto__"', '"toString"', '"hasOwnProperty"']);
        return c('wrong-type/method', `{"jsonrpc":"2.0","id":7,"method":${m},"params":[]}`, { rpcIds: [7] });
      }
      return c('wrong-type/extra-members', `{"jsonrpc":"2.0","id":7,"method":"${method}","params":[${params.join(',')}],"extra":{"deep":[1,2,3]},"result":1,"error":{}}`);
    }
    case 4: {
      // Invalid UTF-8 inside a string value, in the method name, or as the whole body.
      const bad = rng.pick(INVALID_UTF8);
      const v = rng.int(0, 2);
      if (v === 0) return c('bad-utf8/in-string', Buffer.concat([Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"${method}","params":["`), bad, Buffer.from('"]}')]));
      if (v === 1) return c('bad-utf8/in-method', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"eth_'), bad, Buffer.from('"}')]));
      return c('bad-utf8/raw', Buffer.concat([bad, Buffer.from(rpcCallText(method, params, '1'))]));
    }
    case 5: {
      // Bodies over the limit: declared, chunked, exactly at and just over the limit.
      const v = rng.int(0, 3);
      const filler = (size: number) => {
        const head = `{"jsonrpc":"2.0","id":1,"method":"${method}","params":["`;
        return head + 'x'.repeat(Math.max(0, size - head.length - 3)) + '"]}';
      };
      if (v === 0) return c('oversize/declared', filler(t.maxBodyBytes + rng.int(1, 200_000)));
      if (v === 1) return c('oversize/exact-limit', filler(t.maxBodyBytes));
      if (v === 2) return c('oversize/limit+1', filler(t.maxBodyBytes + 1));
      const body = Buffer.from(filler(t.maxBodyBytes * 2));
      const chunked = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      return baseCase(n, 'rpc-oversize/chunked', 'jsonrpc', buildRequest('POST', path, [['content-type', 'application/json'], ['transfer-encoding', 'chunked']], chunked));
    }
    case 6: {
      // Batches: over the limit, at it, empty, junk elements, nested, all notifications, duplicate ids.
      const v = rng.int(0, 6);
      const call = (id: string | undefined) => rpcCallText(method, params, id);
      if (v === 0) {
        const len = rng.pick([t.maxBatchLength + 1, t.maxBatchLength * 3]);
        return c('batch/over-limit', `[${Array.from({ length: len }, (_, i) => call(String(i))).join(',')}]`);
      }
      if (v === 1) {
        const len = t.maxBatchLength;
        return c('batch/at-limit', `[${Array.from({ length: len }, (_, i) => call(String(i))).join(',')}]`, { rpcBatch: true, rpcIds: Array.from({ length: len }, (_, i) => i) });
      }
      if (v === 2) return c('batch/empty', '[]');
      if (v === 3) return c('batch/junk-elements', `[1,"x",null,[],{},${call('"ok"')},true]`, { rpcBatch: true });
      if (v === 4) return c('batch/nested', `[[${call('1')}],[${call('2')}]]`, { rpcBatch: true });
      if (v === 5) return c('batch/notifications-only', `[${call(undefined)},${call(undefined)}]`, { rpcBatch: true, rpcAllNotifications: true });
      return c('batch/duplicate-ids', `[${call('5')},${call('5')},${call('"5"')},${call('null')}]`, { rpcBatch: true, rpcIds: [5, 5, '5', null] });
    }
    case 7: {
      // Odd ids: objects, arrays, huge strings, fractions, booleans, notifications.
      const v = rng.int(0, 2);
      if (v === 0) {
        const id = rng.pick(ODD_IDS);
        const valid = /^(null|-?\d+(\.\d+)?(e\d+)?|".*")$/s.test(id);
        return c(`odd-id/${id.length > 12 ? id.slice(0, 12) : id}`, rpcCallText(method, params, id), valid ? { rpcIds: [JSON.parse(id)] } : {});
      }
      if (v === 1) {
        const big = 'i'.repeat(rng.int(1_000, t.maxBodyBytes - 500));
        return c('odd-id/huge-string', rpcCallText(method, params, `"${big}"`), { rpcIds: [big] });
      }
      return c('odd-id/notification', rpcCallText(method, params, undefined), { rpcAllNotifications: true });
    }
    case 8: {
      // Content types a client might send.
      const ct = rng.pick(['', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json, text/html']);
      return c('content-type', rpcCallText(method, params, '3'), { rpcIds: [3] }, [], ct);
    }
    case 9: {
      // Other HTTP methods on a JSON-RPC route (pass-through to the node).
      const m = rng.pick(['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD']);
      const body = m === 'GET' || m === 'HEAD' ? undefined : Buffer.from(rpcCallText(method, params, '1'));
      return baseCase(n, `rpc-http-method/${m}`, 'none', buildRequest(m, path, [['content-type', 'application/json']], body), { head: m === 'HEAD' });
    }
    default: {
      // Unknown methods (they are writes: primary only, never cached) and the envelope's edges.
      const m = rng.pick(['evm_mine', 'debug_traceTransaction', 'admin_addPeer', 'eth_subscribe', 'rpc.discover', 'x'.repeat(300), '']);
      return c('unknown-method', rpcCallText(m, ['1'], '9'), { rpcIds: [9] });
    }
  }
}

function aptosCase(rng: Rng, n: number, t: FuzzTarget): FuzzCase {
  const kind = rng.int(0, 6);
  const get = (variant: string, target: string, headers: Array<[string, string]> = [], extra: Partial<FuzzCase> = {}) =>
    baseCase(n, `aptos-${variant}`, 'aptos', buildRequest('GET', target, headers), extra);
  const view = (variant: string, body: Buffer | string, ct = 'application/json', query = `?ledger_version=${rng.int(1, t.aptosVersion)}`) =>
    baseCase(n, `aptos-${variant}`, 'aptos', jsonPost(`/v1/view${query}`, body, [], ct));
  switch (kind) {
    case 0: {
      // ledger_version and paging query params of every wrong kind.
      const lv = rng.pick(['-1', '1e999', '9'.repeat(400), '0x10', '', '1.5', ' 1', '1%00', '%ff', '18446744073709551615', '18446744073709551616', `${t.aptosVersion * 10}`, 'latest', '1&ledger_version=2', '%2e%2e']);
      const v = rng.int(0, 2);
      if (v === 0) return get('query/ledger_version', `/v1/accounts/${ADDR}/resource/${COIN_STORE}?ledger_version=${lv}`);
      if (v === 1) return get('query/paging', `/v1/accounts/${ADDR}/resources?limit=${lv}&start=${rng.pick(['0x', 'zz', '-1', lv])}`);
      return view('query/view', `{"function":"0x1::coin::balance","type_arguments":["0x1::aptos_coin::AptosCoin"],"arguments":["${ADDR}"]}`, 'application/json', `?ledger_version=${lv}`);
    }
    case 1: {
      // Paths: traversal, NUL, encodings, junk segments, very long.
      const p = rng.pick([
        '/v1/../etc/passwd', '/v1/%2e%2e/%2e%2e/etc/passwd', '/v1/accounts/%00', '/v1/accounts/0x1%00/resources', '//v1', '/v1//accounts/0x1', '/v1/accounts/..%2f..%2f',
        '/v1/transactions/by_version/abc', '/v1/transactions/by_version/99999999999999999999999', '/v1/transactions/by_version/-1', '/v1/transactions/by_version/1e5',
        '/v1/blocks/by_height/-1', '/v1/blocks/by_height/0x10', '/v1/transactions/by_hash/0xzz', '/v1/accounts/not-an-address/resources', `/v1/accounts/${ADDR}/resource/%3C%3E`,
        `/v1/accounts/${ADDR}/resource/0x1::coin::CoinStore%3C0x1::aptos_coin::AptosCoin%3E`, '/v1/', '/v1?', '/v1#frag', '/v1/accounts/0x1/events/0x1::x::y/z/extra', '/V1', '/v1%2f',
        `/v1/accounts/${'%ff'.repeat(50)}`, `/v1/accounts/${'a'.repeat(rng.int(2000, 8000))}`, `/v1/${'x/'.repeat(rng.int(100, 2000))}`,
      ]);
      return get('path', p);
    }
    case 2: {
      // Very long target (beyond maxHeaderBytes counts as the header block) and huge headers.
      const v = rng.int(0, 2);
      if (v === 0) return get('long-target', `/v1/accounts/${ADDR}?x=${'q'.repeat(rng.int(t.maxHeaderBytes, t.maxHeaderBytes * 4))}`);
      if (v === 1) return get('huge-header', '/v1', [['x-junk', 'h'.repeat(rng.int(t.maxHeaderBytes, t.maxHeaderBytes * 2))]]);
      return get('many-headers', '/v1', Array.from({ length: rng.int(100, 400) }, (_, i) => [`x-h${i}`, 'v'] as [string, string]));
    }
    case 3: {
      // View bodies: wrong types, broken JSON, deep nesting, huge numbers, invalid UTF-8, BCS junk.
      const v = rng.int(0, 6);
      if (v === 0) return view('view/wrong-types', `{"function":${rng.pick(['1', 'null', '[]', '"nope"', '"0x1::coin::"'])},"type_arguments":${rng.pick(['{}', '1', '[1]', '["x"]'])},"arguments":${rng.pick(['"x"', '[{}]', '[' + '9'.repeat(400) + ']', '[1e999999]'])}}`);
      if (v === 1) return view('view/broken-json', rng.pick(BROKEN_JSON));
      if (v === 2) return view('view/deep', `{"function":"0x1::coin::balance","type_arguments":[],"arguments":[${nest(rng.pick([t.maxJsonDepth + 1, 5000, 30_000]), 'array')}]}`);
      if (v === 3) return view('view/bad-utf8', Buffer.concat([Buffer.from('{"function":"0x1::coin::'), rng.pick(INVALID_UTF8), Buffer.from('","type_arguments":[],"arguments":[]}')]));
      if (v === 4) return view('view/bcs-junk', Buffer.from(rng.hex(rng.int(0, 300)), 'hex'), 'application/x.aptos.view_function+bcs');
      if (v === 5) return view('view/oversize', `{"function":"0x1::coin::balance","type_arguments":[],"arguments":["${'z'.repeat(t.maxBodyBytes + rng.int(1, 5000))}"]}`);
      return view('view/no-content-type', '{"function":"0x1::coin::balance","type_arguments":[],"arguments":[]}', '');
    }
    case 4: {
      // Methods the API does not take, and oddly spelled ones.
      const m = rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'get', 'G3T', 'M'.repeat(rng.int(20, 2000)), 'HEAD', 'POST']);
      const target = rng.pick(['/v1', `/v1/accounts/${ADDR}`, '/v1/view', '/v1/transactions']);
      return baseCase(n, `aptos-method/${m.length > 10 ? 'long' : m}`, 'aptos', buildRequest(m, target, [], m === 'GET' || m === 'HEAD' ? undefined : Buffer.from('{}')), { head: m === 'HEAD', expect: m.length > 10 || m === 'G3T' ? 'one-or-close' : 'one' });
    }
    case 5: {
      // Headers that change routing or negotiation.
      const h = rng.pick<Array<[string, string]>>([
        [['accept', 'application/x-bcs']], [['accept', '*/*;q=0']], [['accept-encoding', 'gzip;q=0, br, zstd, ' + 'x'.repeat(2000)]], [['x-read-consistency', 'strong']],
        [['x-request-id', 'r'.repeat(500)]], [['x-request-id', '../../etc']], [['x-forwarded-for', '1.2.3.4, ' + 'junk,'.repeat(200)]], [['host', 'h'.repeat(3000)]], [['host', '']],
        [['content-length', '0']], [['cookie', 'a=' + 'b'.repeat(4000)]], [['range', 'bytes=0-1']], [['if-none-match', '*']], [['connection', 'upgrade'], ['upgrade', 'h2c']],
      ]);
      return get(`headers/${h[0]?.[0] ?? 'none'}`, rng.pick(['/v1', `/v1/accounts/${ADDR}/resource/${COIN_STORE}?ledger_version=${rng.int(1, t.aptosVersion)}`]), h, { head: false });
    }
    default: {
      // Routes that are not there, and writes with junk bodies (they reach the primary only).
      const v = rng.int(0, 1);
      if (v === 0) return baseCase(n, 'aptos-no-route', 'aptos', buildRequest('GET', rng.pick(['/', '/v2', '/admin/purge', '/metrics', '/v1x', '/evmx', '/neo/../v1']), []));
      return baseCase(n, 'aptos-write-junk', 'aptos', jsonPost('/v1/transactions', rng.pick(['{}', '[]', 'null', '{"sender":1}', rng.pick(BROKEN_JSON)])));
    }
  }
}

function httpCase(rng: Rng, n: number, t: FuzzTarget): FuzzCase {
  const marker = `smuggled-${n}`;
  const smuggled = `GET /v1/${marker} HTTP/1.1\r\nhost: x\r\n\r\n`;
  const kind = rng.int(0, 9);
  const raw = (variant: string, text: string | Buffer, extra: Partial<FuzzCase> = {}) =>
    baseCase(n, `http-${variant}`, 'none', typeof text === 'string' ? Buffer.from(text, 'latin1') : text, { lingerMs: 150, marker, ...extra });
  const view = '{"function":"0x1::coin::balance","type_arguments":[],"arguments":[]}';
  switch (kind) {
    case 0: {
      const body = `0\r\n\r\n${smuggled}`;
      return raw('cl+te', `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\ntransfer-encoding: chunked\r\n\r\n${body}`);
    }
    case 1: {
      const body = `${smuggled}`;
      return raw('te+cl', `POST /evm HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n5c\r\n${body}\r\n0\r\n\r\n`);
    }
    case 2: {
      const v = rng.int(0, 1);
      if (v === 0) return raw('dup-cl/different', `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${view.length}\r\ncontent-length: ${view.length + smuggled.length}\r\n\r\n${view}${smuggled}`);
      return raw('dup-cl/same', `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${view.length}\r\ncontent-length: ${view.length}\r\n\r\n${view}`);
    }
    case 3: {
      const te = rng.pick(['xchunked', 'chunked, identity', ' chunked', 'chunked\r\ntransfer-encoding: identity', 'CHUNKED', '\tchunked', 'chunked;q=1', 'identity']);
      return raw(`te-obfuscated/${te.trim().slice(0, 12)}`, `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: ${te}\r\ncontent-length: ${view.length}\r\n\r\n${view}`, { expect: 'one-or-close', timeoutMs: t.requestTimeoutMs + 8000 });
    }
    case 4: {
      const v = rng.int(0, 2);
      if (v === 0) return raw('obs-fold/te', `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ntransfer-encoding:\r\n chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n${smuggled}`, { expect: 'one-or-close', timeoutMs: t.requestTimeoutMs + 8000 });
      if (v === 1) return raw('obs-fold/header', 'GET /v1 HTTP/1.1\r\nhost: x\r\nx-folded: a\r\n  b\r\n\r\n');
      return raw('space-before-colon', `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ntransfer-encoding : chunked\r\ncontent-length: ${view.length}\r\n\r\n${view}`);
    }
    case 5: {
      const size = rng.pick(['zz', '-1', 'ffffffffffffffffff', '0x10', '1 ; ext', '']);
      return raw(`bad-chunk/${size || 'empty'}`, `POST /evm HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${size}\r\n{}\r\n0\r\n\r\n`, { expect: 'one-or-close', timeoutMs: t.requestTimeoutMs + 8000 });
    }
    case 6: {
      const line = rng.pick([
        'GET /v1\r\n\r\n', 'GET /v1 HTTP/1.1 extra\r\nhost: x\r\n\r\n', 'GET  /v1 HTTP/1.1\r\nhost: x\r\n\r\n', 'GET /v1 HTTP/9.9\r\nhost: x\r\n\r\n', 'GET /v1 HTTP/1.0\r\n\r\n',
        '\r\n\r\nGET /v1 HTTP/1.1\r\nhost: x\r\n\r\n', 'GET /v1 HTTP/1.1\nhost: x\n\n', 'GET /v1\u0000 HTTP/1.1\r\nhost: x\r\n\r\n', 'GET /v1 x HTTP/1.1\r\nhost: x\r\n\r\n',
        'GET /v1/\u00e9\u00ff HTTP/1.1\r\nhost: x\r\n\r\n', 'GET http://127.0.0.2:9/v1 HTTP/1.1\r\nhost: 127.0.0.2:9\r\n\r\n', 'GET * HTTP/1.1\r\nhost: x\r\n\r\n', 'GET v1 HTTP/1.1\r\nhost: x\r\n\r\n',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'GARBAGE\r\n\r\n', '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000', 'GET /v1 HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n', 'GET /v1 HTTP/1.1\r\nhost: x\r\nx-nul: a\u0000b\r\n\r\n',
        'GET /v1 HTTP/1.1\r\nhost: x\r\n: empty-name\r\n\r\n', 'GET /v1 HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n',
      ]);
      return raw(`request-line/${JSON.stringify(line.slice(0, 14))}`, line, { expect: 'one-or-close', timeoutMs: t.requestTimeoutMs + 8000 });
    }
    case 7: {
      // Keep-alive after an early answer: the rest of a refused body must never be read as a request.
      const big = `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["${'p'.repeat(t.maxBodyBytes)}${smuggled}"]}`;
      const first = buildRequest('POST', '/evm', [['content-type', 'application/json']], Buffer.from(big, 'latin1'));
      const second = buildRequest('GET', '/v1', []);
      return raw('keepalive-after-413', Buffer.concat([first, second]), { expect: 'two', lingerMs: 150, dialect: 'jsonrpc' });
    }
    case 8: {
      // Content-Length lies: negative, not a number, longer than the body (the proxy must time out, not hang).
      const cl = rng.pick(['-1', 'abc', '1e3', '0x10', ' 10', '99999999999999999999']);
      if (rng.chance(0.5)) return raw(`cl-junk/${cl.trim()}`, `POST /v1/view HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${cl}\r\n\r\n${view}`, { expect: 'one-or-close', timeoutMs: t.requestTimeoutMs + 8000 });
      return raw('cl-longer-than-body', `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${view.length + 50}\r\n\r\n${view}`, { expect: 'one-or-close', timeoutMs: t.requestTimeoutMs + 10_000 });
    }
    default: {
      const v = rng.int(0, 3);
      if (v === 0) return raw('expect/100-continue', `POST /v1/view?ledger_version=5 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${view.length}\r\n\r\n${view}`);
      if (v === 1) return raw('expect/bogus', 'GET /v1 HTTP/1.1\r\nhost: x\r\nexpect: bogus\r\n\r\n');
      if (v === 2) return raw('half-request', `POST /v1/view HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"fun`, { expect: 'any', abortAfterWrite: true, timeoutMs: 2000 });
      return raw('upgrade', 'GET /v1 HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', { expect: 'one-or-close', timeoutMs: 8000 });
    }
  }
}

function validCase(rng: Rng, n: number, t: FuzzTarget): FuzzCase {
  const v = rng.int(0, 4);
  // Pinned reads from a small key space: a mix of cache hits and misses.
  const version = rng.int(1, rng.chance(0.5) ? 200 : t.aptosVersion);
  if (v === 0) return baseCase(n, 'valid/aptos-resource', 'aptos', buildRequest('GET', `/v1/accounts/${ADDR}/resource/${COIN_STORE}?ledger_version=${version}`, [['accept-encoding', rng.pick(['gzip', 'identity'])]]));
  if (v === 1) return baseCase(n, 'valid/aptos-view', 'aptos', jsonPost(`/v1/view?ledger_version=${version}`, `{"function":"0x1::coin::balance","type_arguments":["0x1::aptos_coin::AptosCoin"],"arguments":["${ADDR}"]}`));
  if (v === 2) return baseCase(n, 'valid/aptos-ledger', 'aptos', buildRequest('GET', '/v1', []));
  if (v === 3) {
    const block = rng.int(1, rng.chance(0.5) ? 100 : t.evmHead);
    return baseCase(n, 'valid/evm-balance', 'jsonrpc', jsonPost('/evm', rpcCallText('eth_getBalance', [`"${EVM_ADDR}"`, `"0x${block.toString(16)}"`], `"c${n}"`)), { rpcIds: [`c${n}`] });
  }
  const calls = Array.from({ length: rng.int(2, 8) }, (_, i) => rpcCallText('getblockhash', [String(rng.int(0, t.neoHead - 1))], String(i)));
  return baseCase(n, 'valid/neo-batch', 'jsonrpc', jsonPost('/neo', `[${calls.join(',')}]`), { rpcBatch: true, rpcIds: calls.map((_, i) => i) });
}

// =============================================================================================
// Checking an answer.

export interface CaseOutcome {
  /** Status of the first response, or a word: `closed`, `reset`, `timeout`, `connect-error`. */
  status: string;
  /** error_code (Aptos / REST shape) or JSON-RPC error code of the first response, if any. */
  code?: string;
  /** Empty when the answer is acceptable. */
  violations: string[];
  ms: number;
}

const STACK = /\n\s+at .+\(.+:\d+:\d+\)|node:internal|\/src\/[\w/-]+\.[jt]s:\d+/;

export function checkOutcome(c: FuzzCase, r: ExchangeResult): CaseOutcome {
  const violations: string[] = [];
  const first = r.responses[0];
  let status = first ? String(first.status) : r.connectError ? 'connect-error' : r.timedOut ? 'timeout' : r.reset ? 'reset' : 'closed';
  let code: string | undefined;
  if (r.connectError) violations.push(`could not connect: ${r.connectError}`);
  if (c.expect === 'any') return { status, violations, ms: r.ms };
  if (r.timedOut) violations.push(`no complete answer within ${c.timeoutMs} ms (hang)`);
  if (!first && c.expect === 'one') violations.push(`connection ${r.reset ? 'reset' : 'closed'} without an answer`);
  if (c.expect === 'two') {
    if (r.responses.length > 2) violations.push(`${r.responses.length} responses to 2 requests (a body was read as a request)`);
    const second = r.responses[1];
    if (second && second.status !== 200) violations.push(`keep-alive follow-up answered ${second.status}`);
    if (first && !second && header(first, 'connection') !== 'close' && !r.closed) violations.push('follow-up request on a kept-alive connection never answered');
  } else if (r.responses.length > 1) {
    violations.push(`${r.responses.length} responses to one request (smuggled request answered)`);
  }
  if (first) {
    const res = classify(c, first);
    code = res.code;
    violations.push(...res.violations);
  }
  if (first && r.leftover > 0 && c.expect !== 'two') violations.push(`${r.leftover} bytes of a truncated answer`);
  status = first ? String(first.status) : status;
  return { status, ...(code !== undefined ? { code } : {}), violations, ms: r.ms };
}

function classify(c: FuzzCase, res: RawResponse): { code?: string; violations: string[] } {
  const v: string[] = [];
  let bytes = res.body;
  if (header(res, 'content-encoding') === 'gzip' && bytes.length > 0) {
    try {
      bytes = gunzipSync(bytes);
    } catch {
      v.push('content-encoding gzip but the body is not gzip');
    }
  }
  const text = bytes.toString('utf8');
  const ct = header(res, 'content-type') ?? '';
  const xcache = header(res, 'x-cache');
  const passthrough = xcache === 'BYPASS';
  if (STACK.test(text)) v.push(`stack trace in the answer: ${text.slice(0, 200)}`);
  if (res.status === 500) {
    // A pass-through answer from the node is the node's; a 500 made by the proxy is a bug.
    if (!(passthrough && text.startsWith('mock node handler error'))) v.push(`500 from the proxy: ${text.slice(0, 200)}`);
  }
  if (res.status >= 600 || res.status < 100) v.push(`impossible status ${res.status}`);
  if (c.head || res.status === 204 || res.status === 304) return { violations: v };
  const isJson = /json/i.test(ct);
  let doc: unknown;
  let parsed = false;
  if (bytes.length > 0 && (isJson || c.dialect === 'jsonrpc')) {
    try {
      doc = JSON.parse(text);
      parsed = true;
    } catch {
      // checked below
    }
  }
  if (c.dialect === 'jsonrpc' && !passthrough) return rpcShape(c, res, doc, parsed, v);
  if (isJson && bytes.length > 0 && !parsed) v.push(`content-type ${ct} but the body is not JSON: ${text.slice(0, 120)}`);
  let code: string | undefined;
  if (res.status >= 400 && !passthrough) {
    // The proxy's own errors, and the node's, are in the Aptos shape.
    const o = doc as { message?: unknown; error_code?: unknown } | undefined;
    if (!parsed || typeof o !== 'object' || o === null || typeof o.message !== 'string' || typeof o.error_code !== 'string') {
      v.push(`error ${res.status} not in the {message, error_code} shape: ${text.slice(0, 160)}`);
    } else {
      code = o.error_code;
    }
  }
  return { ...(code !== undefined ? { code } : {}), violations: v };
}

function isEnvelope(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'element is not an object';
  const o = x as Record<string, unknown>;
  if (o.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  if (!('id' in o)) return 'no id';
  const hasResult = 'result' in o;
  const hasError = 'error' in o;
  if (hasResult === hasError) return 'needs exactly one of result / error';
  if (hasError) {
    const e = o.error as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || !Number.isInteger(e.code) || typeof e.message !== 'string') return 'error is not {code: integer, message: string}';
  }
  return undefined;
}

function sameId(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && (Object.is(a, b) || a === b));
}

function rpcShape(c: FuzzCase, res: RawResponse, doc: unknown, parsed: boolean, v: string[]): { code?: string; violations: string[] } {
  if (res.body.length === 0) {
    if (!(c.rpcAllNotifications && res.status >= 200 && res.status < 300)) v.push(`empty ${res.status} answer to a JSON-RPC request`);
    return { violations: v };
  }
  if (!parsed) {
    v.push(`JSON-RPC answer is not JSON (${res.status}): ${res.body.toString('utf8').slice(0, 120)}`);
    return { violations: v };
  }
  const list = Array.isArray(doc) ? doc : [doc];
  for (const el of list) {
    const problem = isEnvelope(el);
    if (problem) {
      v.push(`JSON-RPC answer ${problem}: ${JSON.stringify(el).slice(0, 160)}`);
      return { violations: v };
    }
  }
  const firstErr = (list[0] as { error?: { code: number } } | undefined)?.error;
  if (list.length === 0 && !c.rpcAllNotifications) v.push('an empty array answered a request that had calls');
  const code = firstErr ? String(firstErr.code) : undefined;
  if (c.rpcIds && Array.isArray(doc) === (c.rpcBatch === true)) {
    const ids = list.map((el) => (el as { id: unknown }).id);
    if (ids.length !== c.rpcIds.length || ids.some((id, i) => !sameId(id, c.rpcIds?.[i]))) {
      v.push(`ids ${JSON.stringify(ids).slice(0, 120)} do not echo the request's ${JSON.stringify(c.rpcIds).slice(0, 120)}`);
    }
  }
  if (res.status === 200 && !Array.isArray(doc) && c.rpcBatch && !firstErr) v.push('a batch answered with a single result');
  return { ...(code !== undefined ? { code } : {}), violations: v };
}

/** Runs one case against the proxy's traffic port. */
export async function runCase(port: number, c: FuzzCase): Promise<{ outcome: CaseOutcome; result: ExchangeResult }> {
  const expect = c.expect === 'two' ? 2 : 1;
  const result = await rawExchange(port, c.bytes, {
    expect,
    lingerMs: c.lingerMs ?? 0,
    timeoutMs: c.timeoutMs,
    headFlags: [c.head === true],
    ...(c.chunks ? { chunks: c.chunks, chunkDelayMs: c.chunkDelayMs ?? 0 } : {}),
    ...(c.abortAfterWrite ? { abortAfterWrite: true } : {}),
  });
  return { outcome: checkOutcome(c, result), result };
}

// =============================================================================================
// A known-good request and its check: the proxy still answers normal traffic.

export async function canary(port: number): Promise<string | undefined> {
  const version = 1 + Math.floor(Math.random() * 1000);
  const a = await rawExchange(port, buildRequest('GET', `/v1/accounts/${ADDR}/resource/${COIN_STORE}?ledger_version=${version}`, []), { timeoutMs: 5000 });
  const ra = a.responses[0];
  if (!ra || ra.status !== 200) return `aptos canary: ${ra ? `${ra.status} ${ra.body.toString().slice(0, 120)}` : a.timedOut ? 'timeout' : 'no answer'}`;
  try {
    const doc = JSON.parse(ra.body.toString('utf8')) as { data?: { coin?: { value?: string } } };
    if (typeof doc.data?.coin?.value !== 'string') return `aptos canary: unexpected body ${ra.body.toString().slice(0, 120)}`;
  } catch {
    return `aptos canary: not JSON ${ra.body.toString().slice(0, 120)}`;
  }
  const e = await rawExchange(port, jsonPost('/evm', rpcCallText('eth_chainId', [], '"canary"')), { timeoutMs: 5000 });
  const re = e.responses[0];
  if (!re || re.status !== 200) return `evm canary: ${re ? re.status : 'no answer'}`;
  const body = JSON.parse(re.body.toString('utf8')) as { id?: unknown; result?: unknown };
  if (body.id !== 'canary' || typeof body.result !== 'string') return `evm canary: ${re.body.toString().slice(0, 120)}`;
  return undefined;
}

// =============================================================================================
// Statistics and reports.

export class Counter<K extends string = string> {
  readonly map = new Map<K, number>();
  add(k: K, n = 1): void {
    this.map.set(k, (this.map.get(k) ?? 0) + n);
  }
  get(k: K): number {
    return this.map.get(k) ?? 0;
  }
  total(): number {
    let s = 0;
    for (const v of this.map.values()) s += v;
    return s;
  }
  sorted(): Array<[K, number]> {
    return [...this.map.entries()].sort((a, b) => b[1] - a[1]);
  }
}

export function mib(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** `--name value` / `--flag` command-line options. */
export function cliArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) continue;
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) out.set(k, inline);
    else if (argv[i + 1] !== undefined && !(argv[i + 1] ?? '').startsWith('--')) out.set(k, argv[++i] ?? '');
    else out.set(k, 'true');
  }
  return out;
}

/** Runs `worker(i)` for i in [0, count) with `concurrency` in flight; stops early when `stop()` says so. */
export async function pool(count: number, concurrency: number, worker: (i: number) => Promise<void>, stop: () => boolean = () => false): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count && !stop()) {
      const i = next++;
      await worker(i);
    }
  });
  await Promise.all(lanes);
}
