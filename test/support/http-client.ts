/**
 * Tiny HTTP helpers for tests, on `undici.request`: no automatic decompression (a gzip answer comes
 * back as the gzip bytes with its `content-encoding`), no redirects, no throwing on error statuses.
 */
import { request as undiciRequest, type Dispatcher } from 'undici';

export type Headers = Record<string, string | string[] | undefined>;

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A string or bytes are sent as is; any other value is sent as JSON (with `content-type: application/json` unless given). */
  body?: string | Buffer | Uint8Array | object | null;
  /** Abort the whole exchange after this many ms (default 10 000). */
  timeoutMs?: number;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Raw body bytes, still compressed if the server compressed them. */
  body: Buffer;
  /** First value of a header (names are lower-case). */
  header(name: string): string | undefined;
  text(): string;
  /** `JSON.parse` of the body (throws on invalid JSON or a compressed body). */
  json<T = unknown>(): T;
}

export async function request(url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | Buffer | Uint8Array | undefined;
  if (opts.body === null || opts.body === undefined) {
    body = undefined;
  } else if (typeof opts.body === 'string' || opts.body instanceof Uint8Array) {
    body = opts.body;
  } else {
    body = JSON.stringify(opts.body);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  const timeout = opts.timeoutMs ?? 10_000;
  const signals = [AbortSignal.timeout(timeout)];
  if (opts.signal) signals.push(opts.signal);
  const res = await undiciRequest(url, {
    method: (opts.method ?? (body === undefined ? 'GET' : 'POST')) as Dispatcher.HttpMethod,
    headers,
    body,
    signal: AbortSignal.any(signals),
    headersTimeout: timeout,
    bodyTimeout: timeout,
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const resHeaders = res.headers as Headers;
  return {
    status: res.statusCode,
    headers: resHeaders,
    body: bytes,
    header(name: string): string | undefined {
      const v = resHeaders[name.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
    text: () => bytes.toString('utf8'),
    json: <T = unknown>(): T => JSON.parse(bytes.toString('utf8')) as T,
  };
}

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Headers,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = 'HttpStatusError';
  }
}

/** Request and parse JSON; throws {@link HttpStatusError} on a non-2xx status. */
export async function fetchJson<T = unknown>(url: string, opts: RequestOptions = {}): Promise<T> {
  const res = await request(url, { ...opts, headers: { accept: 'application/json', ...opts.headers } });
  if (res.status < 200 || res.status > 299) throw new HttpStatusError(res.status, res.text(), res.headers);
  return res.json<T>();
}

export interface JsonRpcResponse<T = unknown> {
  jsonrpc: '2.0';
  id: number | string | null;
  result?: T;
  error?: { code: number; message: string; data?: unknown };
}

let nextRpcId = 1;

/** One JSON-RPC 2.0 call; returns the whole envelope (check `.error` yourself). */
export async function rpcCall<T = unknown>(
  url: string,
  method: string,
  params: unknown[] | Record<string, unknown> = [],
  opts: RequestOptions & { id?: number | string } = {},
): Promise<JsonRpcResponse<T>> {
  const id = opts.id ?? nextRpcId++;
  return fetchJson<JsonRpcResponse<T>>(url, { ...opts, method: 'POST', body: { jsonrpc: '2.0', id, method, params } });
}
