/**
 * Fault injection and the shared real-HTTP-server plumbing behind the mock blockchain nodes
 * (`aptos-node.ts`, `jsonrpc-node.ts`). Test support only; not run as a test.
 *
 * Every mock node is a real `node:http` server on 127.0.0.1, port 0 by default. A fault set with
 * `setFault` changes how the *transport* behaves (hang, reset, half a body, garbage, an HTTP status,
 * extra delay) and, through `lagBy` / `prunedBelow`, what ledger the node reports and serves.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';

/** How the node's transport misbehaves. */
export type FaultBehavior =
  /** Healthy. */
  | { kind: 'none' }
  /** Reads the request, never answers; the socket stays open until the client gives up or the node closes. */
  | { kind: 'hang' }
  /** Computes the real answer, sends its status, headers (with the full `content-length`) and half the body, then destroys the socket. */
  | { kind: 'close-mid-body' }
  /** 200, `content-type: application/json`, body that is not JSON. */
  | { kind: 'garbage'; body?: Buffer | string }
  /** Answers this status (with `body`, default a short text/plain reason) instead of the real answer. */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** Answers correctly after an extra `ms` (on top of the node's `latencyMs`). */
  | { kind: 'slow'; ms: number }
  /** Destroys the socket (TCP RST where the platform allows) as soon as the request arrives. */
  | { kind: 'reset' };

export type FaultKind = FaultBehavior['kind'];

/** What a fault can be limited to. `rpcMethods` is empty for non-JSON-RPC requests. */
export interface FaultMatchInfo {
  method: string;
  path: string;
  rpcMethods: readonly string[];
}

export interface FaultModifiers {
  /**
   * A lagging replica: the node's visible head is `lagBy` **blocks** behind its own chain. It reports
   * that head (Aptos headers and `GET /v1`, `eth_blockNumber`, `getblockcount`) and answers reads as a
   * node at that head would (pinned reads above it: not found). Persists while this fault is set,
   * even after `times` is used up.
   */
  lagBy?: number;
  /**
   * A pruned node. Aptos: versions below this are gone (`410 version_pruned`, `X-Aptos-Ledger-Oldest-Version`).
   * EVM: state (`eth_call`, `eth_getBalance`, ...) at blocks below this fails with `-32000 missing trie node`.
   * Neo: ignored (a Neo node keeps its chain).
   */
  prunedBelow?: number;
  /** Apply the behaviour to the next `times` matching requests only, then behave healthily. */
  times?: number;
  /** Apply the behaviour only to requests for which this returns true. */
  match?: (info: FaultMatchInfo) => boolean;
}

export type Fault = FaultBehavior & FaultModifiers;

export const NO_FAULT: Fault = Object.freeze({ kind: 'none' }) as Fault;

/** What both mock node handles expose for fault control and kill/restart. */
export interface FaultableNode {
  readonly url: string;
  readonly port: number;
  /** Replaces the current fault (`{ kind: 'none' }` clears it). */
  setFault(fault: Fault): void;
  readonly fault: Fault;
  /** Abruptly stops the node: stops listening (connections refused) and destroys every open socket. State is kept. */
  kill(): Promise<void>;
  /** Listens again on the same port after `kill()`. */
  restart(): Promise<void>;
  readonly alive: boolean;
  /** Stops for good: kills, cancels timers and pending long-polls. Idempotent. */
  close(): Promise<void>;
}

/** Kill a node (see {@link FaultableNode.kill}). */
export function killNode(node: FaultableNode): Promise<void> {
  return node.kill();
}

/** Bring a killed node back on the same port (see {@link FaultableNode.restart}). */
export function restartNode(node: FaultableNode): Promise<void> {
  return node.restart();
}

// ---------------------------------------------------------------------------------------------
// Shared server plumbing (used by the node modules; tests normally do not need it directly).

export interface MockRequest {
  method: string;
  /** Raw request target, e.g. `/v1/view?ledger_version=5`. */
  url: string;
  /** Percent-decoded path without the query. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Aborted when the client goes away or the node is killed/closed. */
  signal: AbortSignal;
}

export interface MockResponse {
  status: number;
  headers?: Record<string, string | number>;
  body?: Buffer | string;
}

export interface FaultyServerOptions {
  port?: number;
  host?: string;
  latencyMs?: number;
  /** gzip answers for clients that send `accept-encoding: gzip`. Default false. */
  gzip?: boolean;
  /** Called once per received request (after its body is read, before any fault): count and log here. */
  onRequest: (req: MockRequest) => { rpcMethods?: readonly string[] } | void;
  handler: (req: MockRequest) => Promise<MockResponse> | MockResponse;
}

/** Resolves after `ms`, or rejects with an AbortError when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(): Error {
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

const GARBAGE = Buffer.concat([
  Buffer.from('<html><body>502 Bad Gat'),
  Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22, 0x0a]),
  Buffer.from('}{ not json'),
]);

export class FaultyServer {
  #opts: FaultyServerOptions;
  #server: http.Server | undefined;
  #sockets = new Set<Socket>();
  #port: number;
  #host: string;
  #fault: Fault = NO_FAULT;
  #remaining: number | undefined;
  #alive = false;
  #closed = false;
  /** Aborted on kill/close; replaced on restart. */
  #lifetime = new AbortController();

  constructor(opts: FaultyServerOptions) {
    this.#opts = opts;
    this.#port = opts.port ?? 0;
    this.#host = opts.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.#port;
  }
  get url(): string {
    return `http://${this.#host}:${this.#port}`;
  }
  get alive(): boolean {
    return this.#alive;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get fault(): Fault {
    return this.#fault;
  }
  /** Aborted when the node is killed or closed. */
  get lifetimeSignal(): AbortSignal {
    return this.#lifetime.signal;
  }

  setFault(fault: Fault): void {
    this.#fault = fault;
    this.#remaining = fault.times;
  }

  async start(): Promise<void> {
    if (this.#closed) throw new Error('node is closed');
    if (this.#alive) return;
    const server = http.createServer((req, res) => {
      this.#onRequest(req, res).catch((err: unknown) => {
        // A handler bug must be visible, not a hang: answer 500 if we still can.
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`mock node handler error: ${String(err instanceof Error ? err.stack : err)}`);
        } else {
          res.destroy();
        }
      });
    });
    server.keepAliveTimeout = 5_000;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#alive = true;
    if (this.#lifetime.signal.aborted) this.#lifetime = new AbortController();
  }

  async kill(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#alive = false;
    this.#lifetime.abort();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    server.closeAllConnections();
    await closed;
  }

  async restart(): Promise<void> {
    if (this.#alive) return;
    await this.start();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.kill();
    this.#closed = true;
  }

  /** The behaviour to apply to this request, consuming one of `times`. */
  #pickBehavior(info: FaultMatchInfo): FaultBehavior {
    const f = this.#fault;
    if (f.kind === 'none') return f;
    if (f.match && !f.match(info)) return NO_FAULT;
    if (this.#remaining !== undefined) {
      if (this.#remaining <= 0) return NO_FAULT;
      this.#remaining -= 1;
    }
    return f;
  }

  async #onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    // Like a real node's HTTP stack (poem's Compression, geth's gzip handler): a request body sent
    // with Content-Encoding: gzip is decoded before the API sees it.
    if (/^\s*gzip\s*$/i.test(String(req.headers['content-encoding'] ?? ''))) {
      try {
        body = gunzipSync(body);
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('bad gzip body');
        return;
      }
    }

    const ac = new AbortController();
    const lifetime = this.#lifetime.signal;
    const onGone = (): void => ac.abort();
    lifetime.addEventListener('abort', onGone, { once: true });
    res.on('close', () => {
      lifetime.removeEventListener('abort', onGone);
      ac.abort();
    });

    const rawUrl = req.url ?? '/';
    const u = new URL(rawUrl, 'http://mock.invalid');
    let path = u.pathname;
    try {
      path = decodeURIComponent(u.pathname);
    } catch {
      /* keep it encoded */
    }
    const mreq: MockRequest = {
      method: req.method ?? 'GET',
      url: rawUrl,
      path,
      query: u.searchParams,
      headers: req.headers,
      body,
      signal: ac.signal,
    };
    const extra = this.#opts.onRequest(mreq);
    const behavior = this.#pickBehavior({ method: mreq.method, path, rpcMethods: extra?.rpcMethods ?? [] });

    if (behavior.kind === 'reset') {
      const sock = req.socket as Socket & { resetAndDestroy?: () => void };
      if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
      else sock.destroy();
      return;
    }
    if (behavior.kind === 'hang') return; // parked until the client or the node gives up

    try {
      const delay = (this.#opts.latencyMs ?? 0) + (behavior.kind === 'slow' ? behavior.ms : 0);
      if (delay > 0) await sleep(delay, ac.signal);
      if (behavior.kind === 'status') {
        const text = behavior.body ?? `${behavior.status} ${http.STATUS_CODES[behavior.status] ?? 'Error'}`;
        this.#send(req, res, {
          status: behavior.status,
          headers: { 'content-type': 'text/plain; charset=utf-8', ...behavior.headers },
          body: text,
        });
        return;
      }
      if (behavior.kind === 'garbage') {
        this.#send(req, res, {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: behavior.body ?? GARBAGE,
        });
        return;
      }
      const answer = await this.#opts.handler(mreq);
      if (ac.signal.aborted) return;
      if (behavior.kind === 'close-mid-body') {
        this.#sendHalf(req, res, answer);
        return;
      }
      this.#send(req, res, answer);
    } catch (err) {
      if (err instanceof Error && err.name === 'AbortError') return; // client or node went away
      throw err;
    }
  }

  #encode(req: http.IncomingMessage, answer: MockResponse): { headers: Record<string, string | number>; body: Buffer } {
    const headers: Record<string, string | number> = { ...answer.headers };
    let body = typeof answer.body === 'string' ? Buffer.from(answer.body) : (answer.body ?? Buffer.alloc(0));
    const accepts = String(req.headers['accept-encoding'] ?? '');
    if (this.#opts.gzip && body.length > 0 && /\bgzip\b/i.test(accepts)) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
      headers['vary'] = 'accept-encoding';
    }
    headers['content-length'] = body.length;
    return { headers, body };
  }

  #send(req: http.IncomingMessage, res: http.ServerResponse, answer: MockResponse): void {
    if (res.destroyed) return;
    const { headers, body } = this.#encode(req, answer);
    res.writeHead(answer.status, headers);
    res.end(body);
  }

  #sendHalf(req: http.IncomingMessage, res: http.ServerResponse, answer: MockResponse): void {
    if (res.destroyed) return;
    const { headers, body } = this.#encode(req, answer);
    res.writeHead(answer.status, headers);
    const half = body.subarray(0, Math.max(1, Math.floor(body.length / 2)));
    res.write(half, () => {
      // Give the bytes a moment to leave, then cut the connection with the body incomplete.
      setTimeout(() => res.socket?.destroy(), 5).unref();
    });
  }
}
