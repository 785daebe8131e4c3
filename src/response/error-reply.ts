// Every error the proxy itself answers, in the shape the client's API speaks: Aptos REST errors
// are `{"message","error_code","vm_error_code"}`, JSON-RPC errors are an `error` object with the
// JSON-RPC code. Routes that are not matched (no dialect known) get the REST shape.
import type { ServerResponse } from 'node:http';
import { rpcErrorText } from '../dialects/jsonrpc.js';
import { asProxyError, RateLimitedError, type ProxyError } from '../errors.js';

export type ErrorShapeKind = 'rest' | 'jsonrpc';

export function errorBody(kind: ErrorShapeKind, thrown: ProxyError, idRaw = 'null'): string {
  // Normalised here too: a non-ProxyError must still give a code, a message and valid JSON.
  const err = asProxyError(thrown);
  if (kind === 'jsonrpc') return rpcErrorText(idRaw, err.rpcCode, err.message);
  return JSON.stringify({ message: err.message, error_code: err.code, vm_error_code: null });
}

export function writeError(res: ServerResponse, kind: ErrorShapeKind, thrown: ProxyError, requestId: string): void {
  const err = asProxyError(thrown);
  if (res.headersSent) {
    // Too late for a clean answer: cut the connection so the client sees a failure, not a truncated 200.
    res.destroy();
    return;
  }
  const body = Buffer.from(errorBody(kind, err));
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': body.length,
    'x-request-id': requestId,
    'x-cache': 'ERROR',
  };
  if (err.status === 503) headers['retry-after'] = '1';
  if (err instanceof RateLimitedError) headers['retry-after'] = String(err.retryAfterS);
  // Refused before its body was read: close rather than read an unwanted body to keep the socket.
  if (!res.req.complete) headers['connection'] = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
}
