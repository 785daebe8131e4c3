// Requests the proxy does not need to read (unknown paths, event streams, big or streaming
// answers, writes the dialect hands over unparsed) are relayed both ways without buffering, on
// the node's own undici pool (passthrough-http.ts). The proxy never forwards the client's framing:
// it sends only end-to-end headers (headers.ts) and frames the body itself from the bytes it has
// (passthrough-body.ts), so no client can make the node read a request the proxy did not mean to
// send on a connection other clients share. Node selection, passive health, head learning and the
// upstream metrics are the same as on the buffered path; an idempotent request that fails before
// any byte reached the client is tried once more on another node, and one without answer headers
// after the group's hedge delay is also sent to another node (passthrough-hedge.ts).
// WebSocket upgrades: upgrade-relay.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toUpstreamError, type ForwardInfo } from './client.js';
import type { UpstreamNode } from './node.js';
import { passThroughRequestHeaders } from '../response/headers.js';
import { prepareBody } from './passthrough-body.js';
import { hedgedRelay, passHedgeFor } from './passthrough-hedge.js';
import { relayOnce, type RelayRequest, type RelaySink } from './passthrough-http.js';
import type { ReplicaSet } from './replica-set.js';

export { passThroughUpgrade } from './upgrade-relay.js';

export interface PassthroughRequest {
  set: ReplicaSet;
  write: boolean;
  strong: boolean;
  fwd: ForwardInfo;
  timeoutMs: number;
  /** The body, when the proxy already read it (a parsed request the dialect handed back). */
  body?: Buffer | undefined;
  /** server.maxBodyBytes: a larger body is refused with 413 as on the parsed path. */
  maxBodyBytes?: number;
}

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS']);
const DEFAULT_MAX_BODY = 1_048_576;

/** Relays the request to a node; resolves with the node's status, rejects with the final error (nothing sent yet). */
export async function passThrough(req: IncomingMessage, res: ServerResponse, pr: PassthroughRequest): Promise<{ node: string; status: number }> {
  const method = req.method ?? 'GET';
  const prepared = pr.body !== undefined
    ? { body: pr.body.length > 0 ? pr.body : null }
    : await prepareBody(req, pr.maxBodyBytes ?? DEFAULT_MAX_BODY, pr.timeoutMs);
  const rr: RelayRequest = {
    method,
    path: req.url ?? '/',
    headers: withForwarding(passThroughRequestHeaders(req.headers), pr.fwd),
    body: prepared.body,
    ...(prepared.length !== undefined ? { length: prepared.length } : {}),
    headersTimeoutMs: Math.max(1, pr.timeoutMs),
  };
  const replayable = rr.body === null || Buffer.isBuffer(rr.body);
  const retryable = !pr.write && idempotentMethods.has(method) && replayable;
  const sink = responseSink(res);
  const tried = new Set<UpstreamNode>();
  // Reads that can be sent again are hedged like parsed reads (passthrough-hedge.ts); writes never.
  const hedge = passHedgeFor(pr.set, retryable);
  for (;;) {
    const node = pr.set.select({ write: pr.write, strong: pr.strong, exclude: tried });
    if (!node) throw toUpstreamError(new Error('no node available'));
    tried.add(node);
    const outcome = hedge
      ? await hedgedRelay(pr.set, node, rr, res, sink, { hedge, strong: pr.strong, tried })
      : await relayOnce(pr.set, node, rr, sink);
    if (!outcome.error) return { node: outcome.node.name, status: outcome.status };
    if (outcome.started || res.headersSent) {
      // Part of the answer is out: the client can only learn of the failure by a cut connection.
      res.destroy();
      return { node: outcome.node.name, status: outcome.status };
    }
    const again = retryable && outcome.error.retryable && tried.size < 1 + pr.set.config.retry.attempts && !res.destroyed;
    if (!again) throw outcome.error;
  }
}

function withForwarding(headers: string[], fwd: ForwardInfo): string[] {
  headers.push('x-request-id', fwd.requestId, 'x-forwarded-proto', fwd.proto);
  if (fwd.forwardedFor) headers.push('x-forwarded-for', fwd.forwardedFor);
  if (fwd.host) headers.push('x-forwarded-host', fwd.host);
  return headers;
}

/** The client's response as a relay sink: node:http re-frames the body for the client's hop. */
function responseSink(res: ServerResponse): RelaySink {
  return {
    start(status, headers) {
      if (res.headersSent || res.destroyed) return false;
      res.writeHead(status, headers);
      return true;
    },
    write: (chunk) => res.write(chunk),
    onDrain: (resume) => void res.on('drain', resume),
    end: () => void res.end(),
    onGone(abort) {
      res.once('close', () => {
        if (!res.writableFinished) abort();
      });
    },
  };
}
