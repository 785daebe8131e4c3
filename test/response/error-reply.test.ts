import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { request as undiciRequest } from 'undici';
import {
  BodyTooLargeError,
  InternalError,
  InvalidRequestError,
  MalformedJsonError,
  NoRouteError,
  RateLimitedError,
  ShuttingDownError,
  UpstreamConnectError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  type ProxyError,
} from '../../src/errors.js';
import { errorBody, writeError } from '../../src/response/error-reply.js';
import { request } from '../support/http-client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function server(t: Test) {
  let handler: Handler = (_req, res) => res.end();
  const srv = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    srv.closeAllConnections();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`,
    handle(h: Handler) {
      handler = h;
    },
  };
}

t.test('errorBody: the Aptos REST shape', async (t) => {
  const body = JSON.parse(errorBody('rest', new NoRouteError('no route for /x')));
  t.same(body, { message: 'no route for /x', error_code: 'no_route', vm_error_code: null });
  t.same(Object.keys(body), ['message', 'error_code', 'vm_error_code'], 'exactly these members');
});

t.test('errorBody: the JSON-RPC shape, with the client id or null', async (t) => {
  const cases: Array<[ProxyError, number]> = [
    [new MalformedJsonError('bad json'), -32700],
    [new InvalidRequestError('bad envelope'), -32600],
    [new BodyTooLargeError('too big'), -32600],
    [new NoRouteError('nowhere'), -32601],
    [new UpstreamUnavailableError('down'), -32603],
    [new InternalError('oops'), -32603],
  ];
  for (const [err, code] of cases) {
    t.same(JSON.parse(errorBody('jsonrpc', err)), { jsonrpc: '2.0', id: null, error: { code, message: err.message } }, err.code);
  }
  t.same(JSON.parse(errorBody('jsonrpc', new InvalidRequestError('x'), '"abc"')), { jsonrpc: '2.0', id: 'abc', error: { code: -32600, message: 'x' } });
  t.same(JSON.parse(errorBody('jsonrpc', new InvalidRequestError('x'), '17')).id, 17);
});

t.test('errorBody escapes messages into valid JSON', async (t) => {
  const msg = 'quote " backslash \\ newline \n unicode \u2028 end';
  t.equal(JSON.parse(errorBody('rest', new InternalError(msg))).message, msg);
  t.equal(JSON.parse(errorBody('jsonrpc', new InternalError(msg))).error.message, msg);
});

t.test('writeError: status, shape and headers for each kind', async (t) => {
  const { url, handle } = await server(t);
  const cases: Array<[ProxyError, 'rest' | 'jsonrpc', number]> = [
    [new BodyTooLargeError('too big'), 'rest', 413],
    [new MalformedJsonError('bad'), 'jsonrpc', 400],
    [new NoRouteError('none'), 'rest', 404],
    [new UpstreamConnectError('refused'), 'jsonrpc', 502],
    [new UpstreamTimeoutError('slow'), 'rest', 504],
    [new InternalError('bug'), 'rest', 500],
  ];
  for (const [err, kind, status] of cases) {
    handle((_req, res) => writeError(res, kind, err, 'rid-42'));
    const res = await request(url);
    t.equal(res.status, status, `${err.code}: status`);
    t.equal(res.header('content-type'), 'application/json');
    t.equal(res.header('x-request-id'), 'rid-42');
    t.equal(res.header('x-cache'), 'ERROR');
    t.equal(res.header('content-length'), String(res.body.length));
    t.equal(res.header('retry-after'), undefined, 'no retry-after unless 503');
    const body = res.json<Record<string, unknown>>();
    if (kind === 'rest') t.same(body, { message: err.message, error_code: err.code, vm_error_code: null });
    else t.same(body, { jsonrpc: '2.0', id: null, error: { code: err.rpcCode, message: err.message } });
  }
});

t.test('writeError: 503 answers carry retry-after', async (t) => {
  const { url, handle } = await server(t);
  for (const err of [new UpstreamUnavailableError('no node'), new ShuttingDownError('draining')]) {
    handle((_req, res) => writeError(res, 'rest', err, 'r'));
    const res = await request(url);
    t.equal(res.status, 503);
    t.equal(res.header('retry-after'), '1', err.code);
  }
});

t.test('writeError: a rate-limited answer says when to come back', async (t) => {
  const { url, handle } = await server(t);
  const err = new RateLimitedError('slow down', 7);
  handle((_req, res) => writeError(res, 'jsonrpc', err, 'r'));
  const res = await request(url);
  t.equal(res.status, 429);
  t.equal(res.header('retry-after'), '7');
  t.same(res.json(), { jsonrpc: '2.0', id: null, error: { code: -32005, message: 'slow down' } });
});

t.test('writeError: headers already sent → the connection is cut, not a truncated success', async (t) => {
  const { url, handle } = await server(t);
  let threw: unknown;
  let destroyed: boolean | undefined;
  handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"partial":', () => {
      try {
        writeError(res, 'rest', new UpstreamTimeoutError('mid-body'), 'r');
      } catch (err) {
        threw = err;
      }
      destroyed = res.destroyed && (res.socket?.destroyed ?? true);
    });
  });
  // A bounded body timeout: a response left open would end in a BodyTimeoutError, not a cut.
  const res = await undiciRequest(url, { bodyTimeout: 2_000 });
  t.equal(res.statusCode, 200, 'the status line was already out');
  let bodyError: unknown;
  try {
    await res.body.text();
  } catch (err) {
    bodyError = err;
  }
  t.ok(bodyError, 'reading the body fails: the client sees a failure');
  t.not((bodyError as Error | undefined)?.name, 'BodyTimeoutError', 'failed because the socket was closed, not by timeout');
  t.equal(threw, undefined, 'writeError does not throw');
  t.equal(destroyed, true, 'the response and its socket are destroyed');
});
