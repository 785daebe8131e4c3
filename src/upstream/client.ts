// One buffered request to one node through its undici Pool: forwarding headers, a bounded body
// read (a node cannot make the proxy hold more than maxResponseBytes), gzip from the node undone,
// and undici's failures turned into the proxy's upstream error classes.
import { gunzipSync } from 'node:zlib';
import { errors as undiciErrors } from 'undici';
import type { UpstreamPayload } from '../dialects/types.js';
import {
  ProxyError,
  UpstreamBadResponseError,
  UpstreamConnectError,
  UpstreamResponseTooLargeError,
  UpstreamTimeoutError,
} from '../errors.js';
import { countUpstreamRequest, upstreamDuration, upstreamErrorsTotal } from '../metrics/metrics.js';
import type { UpstreamNode } from './node.js';

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Identity bytes (a gzip answer from the node is inflated). */
  body: Buffer;
  node: UpstreamNode;
}

export interface ForwardInfo {
  requestId: string;
  clientIp: string | undefined;
  /** X-Forwarded-For value to send (already merged with the client's when trusted). */
  forwardedFor: string | undefined;
  proto: string;
  host: string | undefined;
}

export interface SendOptions {
  extraHeaders: Readonly<Record<string, string>>;
  maxResponseBytes: number;
  signal?: AbortSignal;
  /** A head or chain-identity probe: counted in head_probes_total, not as traffic. */
  probe?: boolean;
}

export async function sendToNode(
  node: UpstreamNode,
  payload: UpstreamPayload,
  fwd: ForwardInfo,
  opts: SendOptions,
): Promise<UpstreamAnswer> {
  const started = performance.now();
  node.inflight++;
  try {
    const res = await node.pool.request({
      path: joinPath(node.basePath, payload.pathAndQuery),
      method: payload.method as 'GET',
      headers: buildHeaders(payload, fwd, opts.extraHeaders),
      body: payload.body,
      signal: opts.signal,
    });
    const raw = await readBounded(res.body, opts.maxResponseBytes);
    const body = decode(raw, res.headers['content-encoding'], opts.maxResponseBytes);
    const outcome = res.statusCode >= 500 ? 'http_5xx' : res.statusCode >= 400 ? 'http_4xx' : 'ok';
    countUpstreamRequest(node.group, node.name, outcome, opts.probe);
    return { status: res.statusCode, headers: res.headers, body, node };
  } catch (err) {
    const proxyErr = toUpstreamError(err);
    countUpstreamRequest(node.group, node.name, 'error', opts.probe);
    upstreamErrorsTotal.inc({ group: node.group, node: node.name, code: proxyErr.code });
    throw proxyErr;
  } finally {
    node.inflight--;
    const ms = performance.now() - started;
    node.noteLatency(ms);
    upstreamDuration.observe({ group: node.group, node: node.name }, ms / 1000);
  }
}

/** `/rpc` + `/` is `/rpc` (a JSON-RPC endpoint), `/api` + `/v1/x` is `/api/v1/x`. */
export function joinPath(basePath: string, pathAndQuery: string): string {
  if (basePath === '') return pathAndQuery;
  return pathAndQuery === '/' || pathAndQuery.startsWith('/?') ? basePath + pathAndQuery.slice(1) : basePath + pathAndQuery;
}

function buildHeaders(payload: UpstreamPayload, fwd: ForwardInfo, extra: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = {
    ...payload.headers,
    ...extra,
    'accept-encoding': 'gzip',
    'x-request-id': fwd.requestId,
    'x-forwarded-proto': fwd.proto,
  };
  if (fwd.forwardedFor) headers['x-forwarded-for'] = fwd.forwardedFor;
  if (fwd.host) headers['x-forwarded-host'] = fwd.host;
  if (payload.body) headers['content-length'] = String(payload.body.length);
  return headers;
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new UpstreamResponseTooLargeError(`upstream answer larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

function decode(raw: Buffer, encoding: string | string[] | undefined, limit: number): Buffer {
  if (encoding === undefined || encoding === 'identity') return raw;
  if (encoding !== 'gzip') throw new UpstreamBadResponseError(`unsupported content-encoding from upstream: ${String(encoding)}`);
  try {
    return gunzipSync(raw, { maxOutputLength: limit });
  } catch (err) {
    // Too big once inflated is a property of the answer (stream it), not a broken node.
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new UpstreamResponseTooLargeError(`upstream answer larger than ${limit} bytes once inflated`, { cause: err });
    }
    throw new UpstreamBadResponseError('upstream sent a broken gzip body', { cause: err });
  }
}

export function toUpstreamError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const e = err as { code?: string; message?: string; name?: string };
  const message = e.message ?? String(err);
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new UpstreamTimeoutError(`upstream timed out: ${message}`, { cause: err });
  }
  if (err instanceof undiciErrors.ConnectTimeoutError || e.name === 'AbortError' || e.name === 'TimeoutError') {
    return new UpstreamTimeoutError(`upstream timed out: ${message}`, { cause: err });
  }
  return new UpstreamConnectError(`upstream connection failed: ${e.code ?? message}`, { cause: err });
}
