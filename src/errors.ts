// Every failure the proxy answers with is one of these classes. The `code` is stable (clients and
// dashboards key on it), `status` is the HTTP status of a REST answer, `source` says whose fault it
// is (it picks the log level and the metric label), and `retryable` means only "another node may
// succeed": the failover loop tries the next node for an idempotent read and counts the failure
// against the node. It is not "the client may try again later" (429, 503 while shutting down carry
// Retry-After or readiness for that): a refusal by the proxy itself is no node's failure.

export type ErrorSource = 'client' | 'upstream' | 'internal';

export interface ErrorShape {
  code: string;
  status: number;
  source: ErrorSource;
  retryable: boolean;
  /** JSON-RPC error code used when the answer is a JSON-RPC error object. */
  rpcCode: number;
}

export abstract class ProxyError extends Error implements ErrorShape {
  abstract readonly code: string;
  abstract readonly status: number;
  abstract readonly source: ErrorSource;
  readonly retryable: boolean = false;
  readonly rpcCode: number = -32603;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

// ---- client errors -------------------------------------------------------------------------

export class BodyTooLargeError extends ProxyError {
  readonly code = 'body_too_large';
  readonly status = 413;
  readonly source = 'client';
  override readonly rpcCode = -32600;
}

export class MalformedJsonError extends ProxyError {
  readonly code = 'malformed_json';
  readonly status = 400;
  readonly source = 'client';
  override readonly rpcCode = -32700;
}

export class InvalidRequestError extends ProxyError {
  readonly code = 'invalid_request';
  readonly status = 400;
  readonly source = 'client';
  override readonly rpcCode = -32600;
}

export class InvalidParamsError extends ProxyError {
  readonly code = 'invalid_params';
  readonly status = 400;
  readonly source = 'client';
  override readonly rpcCode = -32602;
}

/** A request path the proxy will not route: encoded slashes, NUL, a dot segment above the root. */
export class BadPathError extends ProxyError {
  readonly code = 'bad_path';
  readonly status = 400;
  readonly source = 'client';
  override readonly rpcCode = -32600;
}

/** A request body on a method or in a framing the pass-through path does not relay. */
export class BadFramingError extends ProxyError {
  readonly code = 'bad_framing';
  readonly status = 400;
  readonly source = 'client';
  override readonly rpcCode = -32600;
}

/** A JSON-RPC method the operator's method policy refuses. */
export class MethodDeniedError extends ProxyError {
  readonly code = 'method_denied';
  readonly status = 403;
  readonly source = 'client';
  override readonly rpcCode = -32601;
}

/** More WebSocket upgrades open than the configured bound (per client or in total). */
export class TooManyUpgradesError extends ProxyError {
  readonly code = 'too_many_upgrades';
  readonly status = 429;
  readonly source = 'client';
  override readonly rpcCode = -32005;
}

export class NoRouteError extends ProxyError {
  readonly code = 'no_route';
  readonly status = 404;
  readonly source = 'client';
  override readonly rpcCode = -32601;
}

export class MethodNotAllowedError extends ProxyError {
  readonly code = 'method_not_allowed';
  readonly status = 405;
  readonly source = 'client';
  override readonly rpcCode = -32600;
}

export class UnauthorizedError extends ProxyError {
  readonly code = 'unauthorized';
  readonly status = 401;
  readonly source = 'client';
  override readonly rpcCode = -32001;
}

/** EIP-1474 names -32005 "limit exceeded". */
export class RateLimitedError extends ProxyError {
  readonly code = 'rate_limited';
  readonly status = 429;
  readonly source = 'client';
  override readonly rpcCode = -32005;
  constructor(message: string, readonly retryAfterS: number) {
    super(message);
  }
}

export class ExpectationFailedError extends ProxyError {
  readonly code = 'expectation_failed';
  readonly status = 417;
  readonly source = 'client';
  override readonly rpcCode = -32600;
}

export class RequestTimeoutError extends ProxyError {
  readonly code = 'request_timeout';
  readonly status = 408;
  readonly source = 'client';
  override readonly rpcCode = -32603;
}

// ---- upstream errors -----------------------------------------------------------------------

export class UpstreamUnavailableError extends ProxyError {
  readonly code = 'upstream_unavailable';
  readonly status = 503;
  readonly source = 'upstream';
  override readonly retryable = true;
  override readonly rpcCode = -32603;
}

export class UpstreamConnectError extends ProxyError {
  readonly code = 'upstream_connect_failed';
  readonly status = 502;
  readonly source = 'upstream';
  override readonly retryable = true;
  override readonly rpcCode = -32603;
}

export class UpstreamTimeoutError extends ProxyError {
  readonly code = 'upstream_timeout';
  readonly status = 504;
  readonly source = 'upstream';
  override readonly retryable = true;
  override readonly rpcCode = -32603;
}

export class UpstreamBadResponseError extends ProxyError {
  readonly code = 'upstream_bad_response';
  readonly status = 502;
  readonly source = 'upstream';
  override readonly retryable = true;
  override readonly rpcCode = -32603;
}

export class UpstreamResponseTooLargeError extends ProxyError {
  readonly code = 'upstream_response_too_large';
  readonly status = 502;
  readonly source = 'upstream';
  override readonly rpcCode = -32603;
}

// ---- internal ------------------------------------------------------------------------------

export class InternalError extends ProxyError {
  readonly code = 'internal_error';
  readonly status = 500;
  readonly source = 'internal';
  override readonly rpcCode = -32603;
}

export class ShuttingDownError extends ProxyError {
  readonly code = 'shutting_down';
  readonly status = 503;
  readonly source = 'internal';
  override readonly rpcCode = -32603;
}

/** Wraps anything thrown into a ProxyError so the reply and the log always have a code. */
export function asProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}
