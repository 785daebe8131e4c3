// The client-facing node:http server. It only wires sockets to the pipeline: request → handle,
// upgrade → WebSocket pass-through to the matched group's primary, malformed HTTP → 400 and close.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { handleRequest } from '../pipeline/handle.js';
import { forwardInfo } from '../upstream/forwarding.js';
import { passThroughUpgrade } from '../upstream/passthrough.js';
import type { ProxyState } from './state.js';
import { splitUrl } from './context.js';

export function createTrafficServer(state: ProxyState): Server {
  const { server: cfg } = state.runtime.config;
  const server = createServer({ maxHeaderSize: cfg.maxHeaderBytes, requestTimeout: cfg.requestTimeoutMs + 5_000, keepAliveTimeout: cfg.keepAliveTimeoutMs });
  server.headersTimeout = Math.min(cfg.requestTimeoutMs, 60_000);
  server.on('request', (req, res) => void handleRequest(state, req, res));
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    const route = state.runtime.match(req.method ?? 'GET', splitUrl(req.url).path, req.headers.host);
    if (!route || state.draining) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const id = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID();
    passThroughUpgrade(req, socket, head, route.group.set, forwardInfo(state.runtime.config.server.trustForwardedFor, id, req));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    const body = JSON.stringify({ message: `malformed HTTP request: ${err.code ?? err.message}`, error_code: 'bad_http', vm_error_code: null });
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  return server;
}
