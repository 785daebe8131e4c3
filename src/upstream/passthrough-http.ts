// One pass-through attempt on one node: the request is dispatched on the node's own undici pool
// (`passPool`) with headers and framing built by the proxy, and the answer is relayed to a sink as
// it arrives, with backpressure (a slow reader pauses the node connection; nothing is buffered
// beyond socket buffers). `relayOnce` is the unit a caller may run once, again on another node
// (failover), or twice at once (hedging): it settles exactly once and never writes to the client
// itself — the sink decides what reaches the client.
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { ProxyError } from '../errors.js';
import { upstreamDuration, upstreamRequestsTotal } from '../metrics/metrics.js';
import { relayedResponseHeaders } from '../response/headers.js';
import type { CancelListener, Cancellation } from './cancel.js';
import { countFailure, learnFromRelayedAnswer, nodePath, toUpstreamError } from './client.js';
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
export function relayOnce(set: ReplicaSet, node: UpstreamNode, rr: RelayRequest, sink: RelaySink, signal?: Cancellation): Promise<RelayOutcome> {
  return new Promise((resolve) => {
    const relay = new Relay(set, node, sink, resolve, signal);
    sink.onGone(() => relay.abort(new Error('client went away')));
    if (signal) {
      if (signal.aborted) return relay.cancelled();
      signal.listen(relay);
    }
    node.passPool.dispatch({
      origin: node.origin,
      method: rr.method as Dispatcher.HttpMethod,
      path: nodePath(node, rr.path),
      headers: nodeHeaders(node, set, rr.headers, rr.length),
      body: rr.body,
      headersTimeout: rr.headersTimeoutMs,
      // The answer's end is not bounded by the request deadline (streams, SSE): the node's
      // bodyTimeout (silence between chunks) still applies.
    }, relay);
  });
}

/**
 * One attempt's state and its undici handler in one object: the submit path runs this for every
 * transaction, so it is a class (methods on the prototype) rather than a dozen closures per request.
 */
class Relay implements Dispatcher.DispatchHandler, CancelListener {
  private readonly startedAt = performance.now();
  private status = 0;
  private started = false;
  private settled = false;
  private abortedByUs = false;
  private abortFn: ((err: Error) => void) | undefined;
  private pendingAbort: Error | undefined;

  constructor(
    private readonly set: ReplicaSet,
    private readonly node: UpstreamNode,
    private readonly sink: RelaySink,
    private readonly resolve: (o: RelayOutcome) => void,
    private readonly signal: Cancellation | undefined,
  ) {
    node.inflight++;
  }

  abort(reason: Error): void {
    this.abortedByUs = true;
    if (this.abortFn) this.abortFn(reason);
    else this.pendingAbort = reason;
  }

  /** The signal's listener. */
  cancelled(): void {
    const reason = this.signal?.reason instanceof Error ? this.signal.reason : new Error('attempt aborted');
    this.abort(reason);
    if (!this.started) this.settle(countFailure(this.node, reason, true));
  }

  private settle(error?: ProxyError): void {
    if (this.settled) return;
    this.settled = true;
    this.node.inflight--;
    this.signal?.unlisten(this);
    const { node, status, started } = this;
    this.resolve(error ? { node, status, started, error } : { node, status, started });
  }

  onConnect(undiciAbort: (err?: Error) => void): void {
    this.abortFn = undiciAbort;
    if (this.pendingAbort) undiciAbort(this.pendingAbort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: informational, not relayed
    const node = this.node;
    this.status = statusCode;
    const ms = performance.now() - this.startedAt;
    node.noteLatency(ms);
    const labels = passLabels(node);
    upstreamDuration.observe(labels.node, ms / 1000);
    upstreamRequestsTotal.inc(statusCode >= 500 ? labels.http5xx : statusCode >= 400 ? labels.http4xx : labels.ok);
    const { flat, parsed } = relayedResponseHeaders(rawHeaders);
    learnFromRelayedAnswer(node, this.set.dialect, statusCode, parsed);
    if (!this.sink.start(statusCode, flat, parsed)) {
      // Not wanted (another attempt claimed the client, or a rival may do better than this
      // gateway status): the node answered, which the lines above already counted.
      this.abort(new Error('answer not wanted'));
      this.settle();
      return false;
    }
    this.started = true;
    this.sink.onDrain(resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.sink.write(chunk);
  }

  onComplete(): void {
    this.sink.end();
    this.settle();
  }

  onError(err: Error): void {
    if (this.settled) return;
    const proxyErr = toUpstreamError(err);
    // A client that sent too much or went away is not the node's fault.
    if (proxyErr.source !== 'client' && !this.abortedByUs) {
      countFailure(this.node, proxyErr);
      recordFailure(this.node, Date.now(), proxyErr);
    }
    this.settle(proxyErr);
  }
}

/**
 * The metric label objects of one node, made once: prom-client only reads them, and building
 * three fresh objects per relayed answer showed in the submit profile.
 */
interface PassLabels {
  node: { group: string; node: string };
  ok: { group: string; node: string; outcome: string };
  http4xx: { group: string; node: string; outcome: string };
  http5xx: { group: string; node: string; outcome: string };
}

const labelsByNode = new WeakMap<UpstreamNode, PassLabels>();

function passLabels(node: UpstreamNode): PassLabels {
  let l = labelsByNode.get(node);
  if (!l) {
    const base = { group: node.group, node: node.name };
    l = { node: base, ok: { ...base, outcome: 'ok' }, http4xx: { ...base, outcome: 'http_4xx' }, http5xx: { ...base, outcome: 'http_5xx' } };
    labelsByNode.set(node, l);
  }
  return l;
}

/**
 * Node-specific additions: the group's configured headers and the URL credentials replace any
 * client header of the same name; a streamed body's length is the one node:http validated.
 */
function nodeHeaders(node: UpstreamNode, set: ReplicaSet, base: string[], length: number | undefined): string[] {
  const { overrides, replaced } = overridesOf(node, set);
  // `base` is shared by every attempt of the request (retries, hedges): never changed here.
  if (overrides.length === 0) return length === undefined ? base : [...base, 'content-length', String(length)];
  const out: string[] = [];
  for (let i = 0; i < base.length; i += 2) if (!replaced.has(base[i] as string)) out.push(base[i] as string, base[i + 1] as string);
  for (const v of overrides) out.push(v);
  if (length !== undefined) out.push('content-length', String(length));
  return out;
}

/** The group's headers and the node's credentials as [name, value, ...], made once per node. */
const overridesByNode = new WeakMap<UpstreamNode, { overrides: string[]; replaced: ReadonlySet<string> }>();

function overridesOf(node: UpstreamNode, set: ReplicaSet): { overrides: string[]; replaced: ReadonlySet<string> } {
  let o = overridesByNode.get(node);
  if (!o) {
    const extra = set.config.headers;
    const auth = node.credentials.authorization;
    const overrides: string[] = [];
    for (const name in extra) overrides.push(name.toLowerCase(), extra[name] as string);
    if (auth !== undefined) overrides.push('authorization', auth);
    o = { overrides, replaced: new Set(overrides.filter((_, i) => i % 2 === 0)) };
    overridesByNode.set(node, o);
  }
  return o;
}
