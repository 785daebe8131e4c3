// The client-facing node:http server. It only wires sockets to the pipeline: request → handle,
// upgrade → WebSocket pass-through to the matched group's primary, malformed HTTP → 400 and close.
import { randomUUID } from 'node:crypto';
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { ExpectationFailedError } from '../errors.js';
import { handleRequest } from '../pipeline/handle.js';
import { writeError } from '../response/error-reply.js';
import { forwardInfo } from '../upstream/forwarding.js';
import { passThroughUpgrade } from '../upstream/passthrough.js';
import type { ProxyState } from './state.js';
import { splitUrl } from './context.js';

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
    const kind = state.runtime.match(req.method ?? 'GET', splitUrl(req.url).path, req.headers.host)?.group.dialect.kind ?? 'rest';
    writeError(res, kind, new ExpectationFailedError(`unsupported Expect: ${String(req.headers.expect)}`), randomUUID());
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => onUpgrade(state, req, socket, head));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
      : '400 Bad Request';
    rawError(socket, status, `malformed HTTP request: ${err.code ?? err.message}`, 'bad_http');
  });
  return server;
}

/**
 * WebSocket upgrades are tunnelled to the matched group's primary. Any other Upgrade (h2c from
 * `curl --http2`) is one the proxy does not speak: the request is answered as plain HTTP/1.1, which
 * RFC 9110 §7.8 allows, on a connection closed afterwards.
 */
function onUpgrade(state: ProxyState, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const route = state.runtime.match(req.method ?? 'GET', splitUrl(req.url).path, req.headers.host);
  const websocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
  if (websocket && route && !state.draining) {
    const id = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID();
    passThroughUpgrade(req, socket, head, route.group.set, forwardInfo(state.runtime.config.server.trustForwardedFor, id, req));
    return;
  }
  if (websocket) {
    if (state.draining) rawError(socket, '503 Service Unavailable', 'shutting down', 'shutting_down');
    else rawError(socket, '404 Not Found', 'no route for this WebSocket', 'no_route');
    return;
  }
  if (head.length > 0 || (req.method !== 'GET' && req.method !== 'HEAD')) {
    rawError(socket, '400 Bad Request', 'this upgrade is not supported', 'bad_upgrade');
    return;
  }
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

/**
 * An error answer written straight to a socket that has no ServerResponse, then the socket is
 * destroyed: ending it is not enough, a client that keeps sending (slowloris) would hold it open.
 */
function rawError(socket: Socket, status: string, message: string, code: string): void {
  const body = JSON.stringify({ message, error_code: code, vm_error_code: null });
  const text = `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
  socket.end(text, () => socket.destroy());
}
