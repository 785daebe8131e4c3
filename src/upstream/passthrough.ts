// Requests the proxy does not need to read (unknown paths, event streams, big or streaming
// answers, writes the dialect hands over unparsed, WebSocket upgrades) are streamed both ways by
// http-proxy-3 without buffering. They still go through node selection, passive health, head
// learning and the upstream metrics; an idempotent request that fails before any byte reached the
// client is tried once more on another node.
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { ProxyError } from '../errors.js';
import { upstreamRequestsTotal, upstreamErrorsTotal } from '../metrics/metrics.js';
import { stripConnectionListed, stripHopByHopRequest } from '../response/headers.js';
import { toUpstreamError, type ForwardInfo } from './client.js';
import { isNodeFailureStatus, recordFailure, recordSuccess } from './health.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet } from './replica-set.js';

export interface PassthroughRequest {
  set: ReplicaSet;
  write: boolean;
  strong: boolean;
  fwd: ForwardInfo;
  timeoutMs: number;
  /** The body, when the proxy already read it (a parsed request the dialect handed back). */
  body?: Buffer | undefined;
}

// xfwd off: the forwarding headers are set by forwardingHeaders(), under the proxy's trust policy.
const proxy = createProxyServer({ xfwd: false, changeOrigin: true, ws: true });
const agents = new WeakMap<UpstreamNode, Agent>();
// One listener for the shared proxy, dispatching to the request that owns the response.
const onProxyRes = new WeakMap<IncomingMessage, (proxyRes: IncomingMessage) => void>();
proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) => onProxyRes.get(req)?.(proxyRes));

function agentFor(node: UpstreamNode): Agent {
  let agent = agents.get(node);
  if (!agent) {
    const opts = { keepAlive: true, maxSockets: 256, maxFreeSockets: 32 };
    agent = node.origin.startsWith('https:') ? new HttpsAgent(opts) : new Agent(opts);
    agents.set(node, agent);
  }
  return agent;
}

/** Streams the request to a node; resolves with the node's status, rejects with the final error. */
export function passThrough(req: IncomingMessage, res: ServerResponse, pr: PassthroughRequest): Promise<{ node: string; status: number }> {
  const idempotent = !pr.write && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS');
  const tried = new Set<UpstreamNode>();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const node = pr.set.select({ write: pr.write, strong: pr.strong, exclude: tried });
      if (!node) return reject(toUpstreamError(new Error('no node available')));
      tried.add(node);
      forward(req, res, node, pr, (err) => {
        const retry = idempotent && !res.headersSent && tried.size < 1 + pr.set.config.retry.attempts && err.retryable;
        if (retry) attempt();
        else reject(err);
      }, (status) => resolve({ node: node.name, status }));
    };
    attempt();
  });
}

function forward(
  req: IncomingMessage,
  res: ServerResponse,
  node: UpstreamNode,
  pr: PassthroughRequest,
  onError: (err: ProxyError) => void,
  onResponse: (status: number) => void,
): void {
  const labels = { group: node.group, node: node.name };
  node.inflight++;
  let settled = false;
  const done = () => {
    if (!settled) node.inflight--;
    settled = true;
  };
  onProxyRes.set(req, (proxyRes) => {
    onProxyRes.delete(req);
    stripConnectionListed(proxyRes.headers);
    const status = proxyRes.statusCode ?? 502;
    upstreamRequestsTotal.inc({ ...labels, outcome: status >= 500 ? 'http_5xx' : status >= 400 ? 'http_4xx' : 'ok' });
    if (isNodeFailureStatus(status)) recordFailure(node, Date.now(), status);
    else recordSuccess(node, Date.now());
    const head = pr.set.dialect.nodeFacts(proxyRes.headers).head;
    if (head !== undefined) node.noteHead(head, Date.now());
    proxyRes.once('close', done);
    onResponse(status);
  });
  stripHopByHopRequest(req.headers);
  proxy.web(req, res, {
    target: node.origin + node.basePath,
    agent: agentFor(node),
    headers: { ...forwardingHeaders(pr.fwd), ...pr.set.config.headers },
    proxyTimeout: pr.timeoutMs,
    // A fresh stream per attempt: a retry must send the body again.
    ...(pr.body ? { buffer: Readable.from([pr.body]) } : {}),
  }, (err: Error) => {
    done();
    const proxyErr = toUpstreamError(err);
    upstreamRequestsTotal.inc({ ...labels, outcome: 'error' });
    upstreamErrorsTotal.inc({ ...labels, code: proxyErr.code });
    recordFailure(node, Date.now(), proxyErr);
    onError(proxyErr);
  });
}

function forwardingHeaders(fwd: ForwardInfo): Record<string, string> {
  const headers: Record<string, string> = { 'x-request-id': fwd.requestId, 'x-forwarded-proto': fwd.proto };
  if (fwd.forwardedFor) headers['x-forwarded-for'] = fwd.forwardedFor;
  if (fwd.host) headers['x-forwarded-host'] = fwd.host;
  return headers;
}

/** WebSocket upgrades go to the group's primary: subscriptions are node-local state. */
export function passThroughUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, set: ReplicaSet, fwd: ForwardInfo): void {
  const node = set.primary;
  stripHopByHopRequest(req.headers, true);
  const headers = { ...forwardingHeaders(fwd), ...set.config.headers };
  proxy.ws(req, socket, head, { target: node.origin + node.basePath, agent: agentFor(node), headers }, (err: Error) => {
    upstreamErrorsTotal.inc({ group: node.group, node: node.name, code: toUpstreamError(err).code });
    socket.destroy();
  });
}
