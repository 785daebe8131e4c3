// What the node is told about the client: X-Forwarded-For (the client's X-Forwarded-For is kept
// only when the operator trusts what sits in front of the proxy; otherwise anyone could claim any
// address), X-Forwarded-Proto/-Host and the request id.
import type { IncomingMessage } from 'node:http';
import type { ForwardInfo } from './client.js';

export function forwardInfo(trustForwardedFor: boolean, requestId: string, req: IncomingMessage): ForwardInfo {
  const ip = req.socket.remoteAddress?.replace(/^::ffff:/, '');
  const incoming = req.headers['x-forwarded-for'];
  const trusted = trustForwardedFor && typeof incoming === 'string';
  return {
    requestId,
    clientIp: ip,
    forwardedFor: trusted ? `${incoming}, ${ip ?? 'unknown'}` : ip,
    proto: 'http',
    host: req.headers.host,
  };
}
