// The client-facing node:http server. It only wires sockets to the pipeline: request → handle,
// upgrade → WebSocket pass-through to the matched group's primary, malformed HTTP → 400 and close.
import { createServer, ServerResponse, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { asProxyError, ExpectationFailedError, RateLimitedError } from '../errors.js';
import { handleRequest } from '../pipeline/handle.js';
import { writeError } from '../response/error-reply.js';
import { forwardInfo } from '../upstream/forwarding.js';
import { passThroughUpgrade, tunnelsOf, UpgradeGate, type OpenTunnels } from '../upstream/upgrade-relay.js';
import { normaliseTarget } from './request-path.js';
import type { ProxyState } from './state.js';
import { newRequestId, requestIdOf, splitUrl } from './context.js';

export function createTrafficServer(state: ProxyState): Server {
  const { server: cfg } = state.runtime.config;
  const server = createServer({
    maxHeaderSize: cfg.maxHeaderBytes,
    requestTimeout: cfg.requestTimeoutMs + 5_000,
    keepAliveTimeout: cfg.keepAliveTimeoutMs,
    // Node enforces the header and request timeouts only when it checks connections (every 30 s by
    // default): a slowloris socket would live that long whatever the config says.
    connectionsCheckingInterval: Math.max(250, Math.min(1_000, cfg.requestTimeoutMs / 2)),
  });
  server.headersTimeout = Math.min(cfg.requestTimeoutMs, 60_000);
  server.on('request', (req, res) => void handleRequest(state, req, res));
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    let path = '/';
    try { path = normaliseTarget(req.url).path; } catch { /* answered as REST */ }
    const kind = state.runtime.match(req.method ?? 'GET', path, req.headers.host)?.group.dialect.kind ?? 'rest';
    writeError(res, kind, new ExpectationFailedError(`unsupported Expect: ${String(req.headers.expect)}`), newRequestId());
  });
  const gate = new UpgradeGate();
  const tunnels = tunnelsOf(server);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => whenIdle(socket, () => onUpgrade(state, { gate, tunnels }, req, socket, head)));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
      : '400 Bad Request';
    const message = `malformed HTTP request: ${err.code ?? err.message}`;
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    // No answer pending, or the pending one is for the very request whose body broke: answer it.
    if (!inFlight || (!inFlight.headersSent && inFlight.req.complete === false)) return rawError(socket, status, message, 'bad_http');
    // A response is still going out (to an earlier pipelined request, or to the broken request
    // itself): an error written now would be read as its answer. Let it finish (briefly), then
    // close: the client learns of the malformed request by the closed connection.
    const cap = setTimeout(() => socket.destroy(), 2_000);
    whenIdle(socket, () => {
      clearTimeout(cap);
      socket.destroySoon();
    });
  });
  return server;
}

/**
 * WebSocket upgrades are tunnelled to the matched group's primary, after the same admission as
 * any request (API key, rate limit) and within the upgrade bounds (per client, in total), on the
 * normalised path. Any other Upgrade (h2c from `curl --http2`) is one the proxy does not speak: the
 * request is answered as plain HTTP/1.1, which RFC 9110 §7.8 allows, on a connection closed
 * afterwards. node:http reads no body for an upgrade request, so one that declares a body is
 * refused: its bytes would otherwise be read as the next request.
 */
interface UpgradeBooks {
  gate: UpgradeGate;
  tunnels: OpenTunnels;
}

function onUpgrade(state: ProxyState, books: UpgradeBooks, req: IncomingMessage, socket: Socket, head: Buffer): void {
  let path: string;
  try {
    path = normaliseTarget(req.url).path;
  } catch (err) {
    return rawError(socket, '400 Bad Request', (err as Error).message, 'bad_path');
  }
  const websocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
  const declaresBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  if (!websocket && (declaresBody || head.length > 0 || (req.method !== 'GET' && req.method !== 'HEAD'))) {
    return rawError(socket, '400 Bad Request', 'this upgrade is not supported', 'bad_upgrade');
  }
  if (websocket) return upgradeWebSocket(state, books, req, socket, head, path);
  delete req.headers.upgrade;
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    socket.end();
  });
  void handleRequest(state, req, res);
}

function upgradeWebSocket(state: ProxyState, books: UpgradeBooks, req: IncomingMessage, socket: Socket, head: Buffer, path: string): void {
  const runtime = state.runtime;
  if (state.draining) return rawError(socket, '503 Service Unavailable', 'shutting down', 'shutting_down');
  const route = runtime.match(req.method ?? 'GET', path, req.headers.host);
  if (!route || req.method !== 'GET') return rawError(socket, '404 Not Found', 'no route for this WebSocket', 'no_route');
  let client: string;
  try {
    runtime.admission.admit(req);
    client = runtime.admission.clientKey(req);
  } catch (err) {
    const e = asProxyError(err);
    const retryAfter = e instanceof RateLimitedError ? e.retryAfterS : undefined;
    return rawError(socket, `${e.status} ${STATUS_CODES[e.status] ?? 'Error'}`, e.message, e.code, retryAfter);
  }
  const limits = runtime.config.server.upgrades;
  const release = books.gate.acquire(client, limits.maxPerClient, limits.maxTotal);
  if (!release) return rawError(socket, '429 Too Many Requests', 'too many open WebSocket connections', 'too_many_upgrades');
  delete req.headers['content-length'];
  delete req.headers['transfer-encoding'];
  const id = requestIdOf(req.headers);
  const prefix = route.config.match.pathPrefix.replace(/\/$/, '');
  const forwardPath = route.config.stripPrefix ? path.slice(prefix.length) || '/' : path;
  const query = splitUrl(req.url).query;
  req.url = forwardPath + (query ? `?${query}` : '');
  passThroughUpgrade(req, socket, head, route.group.set, forwardInfo(runtime.admission.forwarded, id, req), {
    handshakeTimeoutMs: limits.handshakeTimeoutMs,
    onClose: release,
    tunnels: books.tunnels,
  });
}

/**
 * An upgrade request pipelined behind requests still being answered must wait for their answers:
 * node:http hands the socket over at once, and writing to it (or assigning it a response) then
 * would interleave two answers — or throw, for a socket that still has its response assigned.
 */
function whenIdle(socket: Socket, run: () => void): void {
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!current) return run();
  let waited = false;
  const next = () => {
    if (waited) return;
    waited = true;
    setImmediate(() => (socket.destroyed ? undefined : whenIdle(socket, run)));
  };
  current.once('finish', next).once('close', next);
}

/**
 * An error answer written straight to a socket that has no ServerResponse, then the socket is
 * destroyed: ending it is not enough, a client that keeps sending (slowloris) would hold it open.
 */
function rawError(socket: Socket, status: string, message: string, code: string, retryAfterS?: number): void {
  const body = JSON.stringify({ message, error_code: code, vm_error_code: null });
  const retry = retryAfterS === undefined ? '' : `retry-after: ${retryAfterS}\r\n`;
  const text = `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${retry}connection: close\r\n\r\n${body}`;
  socket.end(text, () => socket.destroy());
}
