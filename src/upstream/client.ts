// One buffered request to one node through its undici Pool: forwarding headers, a bounded body
// read (a node cannot make the proxy hold more than maxResponseBytes), gzip from the node undone,
// and undici's failures turned into the proxy's upstream error classes.
import { gunzipSync } from 'node:zlib';
import { errors as undiciErrors } from 'undici';
import type { Dialect, UpstreamPayload } from '../dialects/types.js';
import {
  ProxyError,
  UpstreamBadResponseError,
  UpstreamConnectError,
  UpstreamResponseTooLargeError,
  UpstreamTimeoutError,
} from '../errors.js';
import { countUpstreamRequest, upstreamDurationCells, upstreamErrorsTotal } from '../metrics/metrics.js';
import { isNodeFailureStatus, recordFailure, recordSuccess } from './health.js';
import type { CallTimeouts } from './call-timeouts.js';
import type { UpstreamNode } from './node.js';
import { requestBuffered, type AnswerTaker, type BufferedAnswer, type BufferedRequest } from './buffered-request.js';
import { followSignal, type Cancellation } from './cancel.js';

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Identity bytes (a gzip answer from the node is inflated). */
  body: Buffer;
  node: UpstreamNode;
  /** Time from sending to the answer headers, ms (what the hedge delay is estimated from). */
  headersMs?: number;
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
  /** Cancels the exchange (a hedge won, the request deadline): the buffered path's. */
  cancel?: Cancellation | undefined;
  /** The same from an AbortSignal (the probes' `AbortSignal.timeout`); `cancel` wins when both are set. */
  signal?: AbortSignal;
  /** Per-call timeouts (the call's class); default: the pool's. */
  timeouts?: CallTimeouts;
  /** Called once the answer headers are in (the hedger stops waiting for them). */
  onHeaders?: () => void;
  /** A head or chain-identity probe: counted in head_probes_total, not as traffic. */
  probe?: boolean;
}

/**
 * Not async: the exchange's promise is the answer's (the NodeExchange turns undici's answer into
 * an UpstreamAnswer inside the completion), so a miss pays no promise, await and microtask of
 * this level. Never throws: every failure, before the send too, is a rejection counted once.
 */
export function sendToNode(
  node: UpstreamNode,
  payload: UpstreamPayload,
  fwd: ForwardInfo,
  opts: SendOptions,
): Promise<UpstreamAnswer> {
  const exchange = new NodeExchange(node, opts);
  let req: BufferedRequest;
  try {
    req = {
      path: nodePath(node, payload.pathAndQuery),
      method: payload.method,
      headers: buildHeaders(node, payload, fwd, opts.extraHeaders),
      body: payload.body,
      cancel: exchange.cancel,
      headersTimeout: opts.timeouts?.headersMs,
      bodyTimeout: opts.timeouts?.bodyMs,
    };
  } catch (err) {
    return Promise.reject(exchange.failed(err));
  }
  return requestBuffered(node.pool, req, opts.maxResponseBytes, opts.onHeaders, exchange);
}

/**
 * One exchange with a node as the node's books see it: in flight from its creation, then either
 * an answer (gzip from the node undone, counted, its time to headers taken) or a failure (counted
 * as the proxy's error class; an abort by the proxy is not the node's error), and in both cases
 * out of flight with its duration noted. Exactly one of `took` and `failed` runs, once.
 */
class NodeExchange implements AnswerTaker<UpstreamAnswer> {
  private readonly started = performance.now();
  private readonly followed: { cancel: Cancellation; stop(): void } | undefined;
  readonly cancel: Cancellation | undefined;

  constructor(
    private readonly node: UpstreamNode,
    private readonly opts: SendOptions,
  ) {
    this.followed = opts.cancel === undefined && opts.signal !== undefined ? followSignal(opts.signal) : undefined;
    this.cancel = opts.cancel ?? this.followed?.cancel;
    node.inflight++;
  }

  took(res: BufferedAnswer): UpstreamAnswer {
    const body = decode(res.body, res.headers['content-encoding'], this.opts.maxResponseBytes);
    countAnswer(this.node, res.statusCode, this.opts.probe);
    // Time to headers, taken when they came in (what the hedge delay is estimated from).
    const headersMs = res.headersAt === 0 ? 0 : res.headersAt - this.started;
    this.over();
    return { status: res.statusCode, headers: res.headers, body, node: this.node, headersMs };
  }

  failed(err: unknown): ProxyError {
    // Aborted by the proxy (a hedge won, the deadline): not an error of the node's.
    const proxyErr = countFailure(this.node, err, this.cancel?.aborted === true, this.opts.probe);
    this.over();
    return proxyErr;
  }

  private over(): void {
    this.followed?.stop();
    this.node.inflight--;
    noteDuration(this.node, this.started);
  }
}

// ---- shared by the buffered path (above) and the pass-through path (passthrough-http.ts) ----

/** One answer from a node, in the upstream metrics. */
export function countAnswer(node: UpstreamNode, status: number, probe?: boolean): void {
  const outcome = status >= 500 ? 'http_5xx' : status >= 400 ? 'http_4xx' : 'ok';
  countUpstreamRequest(node.group, node.name, outcome, probe);
}

/** One failed exchange with a node, in the upstream metrics; returns it as the proxy's error class. */
export function countFailure(node: UpstreamNode, err: unknown, aborted = false, probe?: boolean): ProxyError {
  const proxyErr = toUpstreamError(err);
  countUpstreamRequest(node.group, node.name, aborted ? 'aborted' : 'error', probe);
  if (!aborted) upstreamErrorsTotal.inc({ group: node.group, node: node.name, code: proxyErr.code });
  return proxyErr;
}

/** The duration series' labels, refilled per exchange (the cells read them, never keep them). */
const durationLabels = ['', ''];

export function noteDuration(node: UpstreamNode, startedAt: number): void {
  const ms = performance.now() - startedAt;
  node.noteLatency(ms);
  durationLabels[0] = node.group;
  durationLabels[1] = node.name;
  upstreamDurationCells.observe(durationLabels, ms / 1000);
}

/**
 * What an answer that is relayed unjudged (pass-through: the proxy does not read the body) says
 * about the node: a gateway status counts against its breaker, anything else for it, and a head in
 * the headers is learnt.
 */
export function learnFromRelayedAnswer(node: UpstreamNode, dialect: Pick<Dialect, 'nodeFacts'>, status: number, headers: Record<string, string | string[] | undefined>): void {
  const now = Date.now();
  if (isNodeFailureStatus(status)) recordFailure(node, now, status);
  else recordSuccess(node, now);
  const facts = dialect.nodeFacts(headers);
  if (facts.head !== undefined) node.noteHead(facts.head, now);
  if (facts.oldest !== undefined) node.oldest = facts.oldest;
}

/** The path and query sent to the node: its base path, and its URL's query merged with the client's. */
export function nodePath(node: UpstreamNode, pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = node.withQuery(q < 0 ? '' : pathAndQuery.slice(q + 1));
  const joined = joinPath(node.basePath, path);
  return query === '' ? joined : `${joined}?${query}`;
}

/** `/rpc` + `/` is `/rpc` (a JSON-RPC endpoint), `/api` + `/v1/x` is `/api/v1/x`. */
export function joinPath(basePath: string, pathAndQuery: string): string {
  if (basePath === '') return pathAndQuery;
  return pathAndQuery === '/' || pathAndQuery.startsWith('/?') ? basePath + pathAndQuery.slice(1) : basePath + pathAndQuery;
}

/**
 * The request's headers, flat (name, value, ...): undici walks a list by index, where a record cost
 * a keyed store per header here and, in undici, a key list and a keyed load per header. Set in the
 * order the record had, a later name replacing an earlier one's value in its place (what assigning
 * the record's keys in this order did), so the node gets the same header block. Names within one
 * group (the payload's, the group's extra ones, the proxy's own) are unique, so each name is only
 * looked for among the groups before its own.
 */
function buildHeaders(node: UpstreamNode, payload: UpstreamPayload, fwd: ForwardInfo, extra: Readonly<Record<string, string>>): string[] {
  const headers: string[] = [];
  for (const name in payload.headers) headers.push(name, payload.headers[name] as string);
  const fromPayload = headers.length;
  for (const name in extra) setHeader(headers, fromPayload, name, extra[name] as string);
  const given = headers.length;
  if (node.credentials.authorization) setHeader(headers, given, 'authorization', node.credentials.authorization);
  setHeader(headers, given, 'accept-encoding', 'gzip');
  setHeader(headers, given, 'x-request-id', fwd.requestId);
  setHeader(headers, given, 'x-forwarded-proto', fwd.proto);
  if (fwd.forwardedFor) setHeader(headers, given, 'x-forwarded-for', fwd.forwardedFor);
  if (fwd.host) setHeader(headers, given, 'x-forwarded-host', fwd.host);
  if (payload.body) setHeader(headers, given, 'content-length', String(payload.body.length));
  return headers;
}

/** As `record[name] = value` on a flat list whose first `before` slots may hold the name: it keeps its place and takes the value. */
function setHeader(headers: string[], before: number, name: string, value: string): void {
  for (let i = 0; i < before; i += 2) {
    if (headers[i] === name) {
      headers[i + 1] = value;
      return;
    }
  }
  headers.push(name, value);
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
