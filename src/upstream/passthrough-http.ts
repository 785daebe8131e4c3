// One pass-through attempt on one node: the request is dispatched on the node's own undici pool
// (`passPool`) with headers and framing built by the proxy, and the answer is relayed to a sink as
// it arrives, with backpressure (a slow reader pauses the node connection; nothing is buffered
// beyond socket buffers). `relayOnce` is the unit a caller may run once, again on another node
// (failover), or twice at once (hedging): it settles exactly once and never writes to the client
// itself — the sink decides what reaches the client.
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { ProxyError } from '../errors.js';
import { passThroughResponseHeaders } from '../response/headers.js';
import { countAnswer, countFailure, learnFromRelayedAnswer, nodePath, noteDuration, toUpstreamError } from './client.js';
import { recordFailure } from './health.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet } from './replica-set.js';

export interface RelayRequest {
  method: string;
  /** Path and query as the client's request names them (normalised; before the node's base path). */
  path: string;
  /** The client's end-to-end headers plus the forwarding headers, as a flat [name, value, ...] list. */
  headers: string[];
  body: Buffer | Readable | null;
  /** Content-Length of a streamed body (undefined: chunked). */
  length?: number;
  /** Time until the node must have sent the answer's headers. */
  headersTimeoutMs: number;
}

/** Where an answer goes. `start` returning false means "not wanted" (lost a hedge race): abort. */
export interface RelaySink {
  start(status: number, headers: string[], parsed: Record<string, string | string[]>): boolean;
  /** false: stop reading until `onDrain` calls back. */
  write(chunk: Buffer): boolean;
  onDrain(resume: () => void): void;
  end(): void;
  /** Whether the receiver went away (a client that disconnected): the node request is aborted. */
  onGone(abort: () => void): void;
}

export interface RelayOutcome {
  node: UpstreamNode;
  status: number;
  /** True when the answer's headers reached the sink (a later failure cannot be retried). */
  started: boolean;
  /** Set when the exchange failed (before or after `started`). */
  error?: ProxyError;
}

/**
 * `signal` aborts the attempt (a hedge race lost, the client gone): counted as `aborted`, not as
 * the node's failure — the caller, which knows why, tells passive health. An attempt still queued
 * for a connection settles at once and is cut when undici hands it one.
 */
export function relayOnce(set: ReplicaSet, node: UpstreamNode, rr: RelayRequest, sink: RelaySink, signal?: AbortSignal): Promise<RelayOutcome> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    node.inflight++;
    let status = 0;
    let started = false;
    let settled = false;
    let abortFn: ((err: Error) => void) | undefined;
    let pendingAbort: Error | undefined;
    let abortedByUs = false;
    const abort = (reason: Error) => {
      abortedByUs = true;
      if (abortFn) abortFn(reason);
      else pendingAbort = reason;
    };
    const onSignal = () => {
      const reason = signal?.reason instanceof Error ? signal.reason : new Error('attempt aborted');
      abort(reason);
      if (!started) settle(countFailure(node, reason, true));
    };
    const settle = (error?: ProxyError) => {
      if (settled) return;
      settled = true;
      node.inflight--;
      signal?.removeEventListener('abort', onSignal);
      resolve(error ? { node, status, started, error } : { node, status, started });
    };
    const headers = nodeHeaders(node, set, rr.headers, rr.length);
    const handler: Dispatcher.DispatchHandler = {
      onConnect(undiciAbort) {
        abortFn = undiciAbort;
        if (pendingAbort) undiciAbort(pendingAbort);
      },
      onHeaders(statusCode, rawHeaders, resume) {
        if (statusCode < 200) return true; // 1xx: informational, not relayed
        status = statusCode;
        noteDuration(node, startedAt);
        const { flat, parsed } = responseHeaders(rawHeaders as unknown as Buffer[]);
        countAnswer(node, statusCode);
        learnFromRelayedAnswer(node, set.dialect, statusCode, parsed);
        if (!sink.start(statusCode, flat, parsed)) {
          // Not wanted (another attempt claimed the client, or a rival may do better than this
          // gateway status): the node answered, which the lines above already counted.
          abort(new Error('answer not wanted'));
          settle();
          return false;
        }
        started = true;
        sink.onDrain(resume);
        return true;
      },
      onData(chunk) {
        return sink.write(chunk);
      },
      onComplete() {
        sink.end();
        settle();
      },
      onError(err) {
        if (settled) return;
        const proxyErr = toUpstreamError(err);
        // A client that sent too much or went away is not the node's fault.
        if (proxyErr.source !== 'client' && !abortedByUs) {
          countFailure(node, proxyErr);
          recordFailure(node, Date.now(), proxyErr);
        }
        settle(proxyErr);
      },
    };
    sink.onGone(() => abort(new Error('client went away')));
    if (signal) {
      if (signal.aborted) {
        onSignal();
        return;
      }
      signal.addEventListener('abort', onSignal, { once: true });
    }
    node.passPool.dispatch({
      origin: node.origin,
      method: rr.method as Dispatcher.HttpMethod,
      path: nodePath(node, rr.path),
      headers,
      body: rr.body,
      headersTimeout: rr.headersTimeoutMs,
      // The answer's end is not bounded by the request deadline (streams, SSE): the node's
      // bodyTimeout (silence between chunks) still applies.
    }, handler);
  });
}

/**
 * Node-specific additions: the group's configured headers and the URL credentials replace any
 * client header of the same name; a streamed body's length is the one node:http validated.
 */
function nodeHeaders(node: UpstreamNode, set: ReplicaSet, base: string[], length: number | undefined): string[] {
  const extra = set.config.headers;
  const auth = node.credentials.authorization;
  const overrides: string[] = [];
  for (const name in extra) overrides.push(name.toLowerCase(), extra[name] as string);
  if (auth !== undefined) overrides.push('authorization', auth);
  if (overrides.length === 0) return length === undefined ? base : [...base, 'content-length', String(length)];
  const replaced = new Set(overrides.filter((_, i) => i % 2 === 0));
  const out: string[] = [];
  for (let i = 0; i < base.length; i += 2) if (!replaced.has(base[i] as string)) out.push(base[i] as string, base[i + 1] as string);
  out.push(...overrides);
  if (length !== undefined) out.push('content-length', String(length));
  return out;
}

/** Raw response headers from undici → the flat list for writeHead (hop-by-hop removed) and an object. */
function responseHeaders(raw: Buffer[]): { flat: string[]; parsed: Record<string, string | string[]> } {
  const parsed: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const value = (raw[i + 1] as Buffer).toString('latin1');
    const prev = parsed[name];
    if (prev === undefined) parsed[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else parsed[name] = [prev, value];
  }
  return { flat: passThroughResponseHeaders(parsed), parsed };
}
