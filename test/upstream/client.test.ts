import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import type { UpstreamConfig } from '../../src/config/schema.js';
import type { UpstreamPayload } from '../../src/dialects/types.js';
import {
  UpstreamBadResponseError,
  UpstreamConnectError,
  UpstreamResponseTooLargeError,
  UpstreamTimeoutError,
} from '../../src/errors.js';
import { joinPath, sendToNode, type ForwardInfo, type SendOptions } from '../../src/upstream/client.js';
import { UpstreamNode } from '../../src/upstream/node.js';
import { startAptosNode } from '../support/aptos-node.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A real HTTP node whose answers the test decides, recording what it was sent. */
async function fakeNode(t: Test) {
  let handler: Handler = (_req, res) => res.end('{}');
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    srv.closeAllConnections();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    seen,
    handle(h: Handler) {
      handler = h;
    },
  };
}

function upstreamConfig(url: string, extra = ''): UpstreamConfig {
  const cfg = parseConfigText(
    `
upstreams:
  g:
    dialect: aptos-rest
    primary: ${url}
${extra}
routes:
  - match: { pathPrefix: / }
    upstream: g
`,
    'client-test',
  ).upstreams['g'];
  if (!cfg) throw new Error('no group');
  return cfg;
}

function makeNode(t: Test, url: string, extra = ''): UpstreamNode {
  const node = new UpstreamNode('g', 'primary', 'primary', url, upstreamConfig(url, extra));
  t.teardown(() => node.close());
  return node;
}

const fwd: ForwardInfo = { requestId: 'rid-123', clientIp: '203.0.113.9', forwardedFor: '198.51.100.1, 203.0.113.9', proto: 'https', host: 'api.example.com' };
const get = (pathAndQuery: string, headers: Record<string, string> = { accept: 'application/json' }): UpstreamPayload => ({ method: 'GET', pathAndQuery, headers });
const sendOpts = (o: Partial<SendOptions> = {}): SendOptions => ({ extraHeaders: {}, maxResponseBytes: 1_000_000, ...o });

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

t.test('joinPath', async (t) => {
  const rows: Array<[string, string, string]> = [
    ['', '/v1/accounts/0x1', '/v1/accounts/0x1'],
    ['', '/', '/'],
    ['/rpc', '/', '/rpc'],
    ['/rpc', '/?x=1', '/rpc?x=1'],
    ['/api', '/v1/x', '/api/v1/x'],
    ['/api', '/v1/x?ledger_version=5', '/api/v1/x?ledger_version=5'],
    ['/a/b', '/v1', '/a/b/v1'],
  ];
  for (const [base, pq, expected] of rows) t.equal(joinPath(base, pq), expected, `${base} + ${pq}`);
});

t.test('forwarding, group and payload headers reach the node', async (t) => {
  const n = await fakeNode(t);
  n.handle((_req, res) => res.end('{"ok":true}'));
  const node = makeNode(t, n.url);
  const payload: UpstreamPayload = {
    method: 'POST',
    pathAndQuery: '/v1/view?ledger_version=5',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: Buffer.from('{"function":"0x1::m::f"}'),
  };
  const answer = await sendToNode(node, payload, fwd, sendOpts({ extraHeaders: { authorization: 'Bearer group-key', 'x-api-key': 'k1' } }));
  t.equal(answer.status, 200);
  t.equal(answer.node, node);
  const req = n.seen[0];
  t.ok(req, 'the node got the request');
  t.equal(req?.method, 'POST');
  t.equal(req?.url, '/v1/view?ledger_version=5');
  t.equal(req?.body.toString(), '{"function":"0x1::m::f"}');
  const h = req?.headers ?? {};
  t.equal(h['x-request-id'], 'rid-123');
  t.equal(h['x-forwarded-for'], '198.51.100.1, 203.0.113.9');
  t.equal(h['x-forwarded-proto'], 'https');
  t.equal(h['x-forwarded-host'], 'api.example.com');
  t.equal(h['authorization'], 'Bearer group-key', 'group header');
  t.equal(h['x-api-key'], 'k1');
  t.equal(h['content-type'], 'application/json');
  t.equal(h['accept'], 'application/json');
  t.equal(h['accept-encoding'], 'gzip');
  t.equal(h['content-length'], String(payload.body?.length));
});

t.test('no forwarded-for / -host headers when there is nothing to forward', async (t) => {
  const n = await fakeNode(t);
  const node = makeNode(t, n.url);
  await sendToNode(node, get('/v1'), { requestId: 'probe-1', clientIp: undefined, forwardedFor: undefined, proto: 'http', host: undefined }, sendOpts());
  const h = n.seen[0]?.headers ?? {};
  t.equal(h['x-forwarded-for'], undefined);
  t.equal(h['x-forwarded-host'], undefined);
  t.equal(h['x-forwarded-proto'], 'http');
  t.equal(h['x-request-id'], 'probe-1');
});

t.test('the node URL path is prepended to every request path', async (t) => {
  const n = await fakeNode(t);
  const node = makeNode(t, `${n.url}/rpc/`);
  t.equal(node.basePath, '/rpc');
  await sendToNode(node, { method: 'POST', pathAndQuery: '/', headers: {}, body: Buffer.from('{}') }, fwd, sendOpts());
  await sendToNode(node, get('/v1/x?y=1'), fwd, sendOpts());
  t.same(n.seen.map((s) => s.url), ['/rpc', '/rpc/v1/x?y=1']);
});

t.test('a gzip answer from a real node is inflated', async (t) => {
  const gz = await startAptosNode({ gzip: true });
  const plain = await startAptosNode({ gzip: false });
  t.teardown(() => Promise.all([gz.close(), plain.close()]));
  const gzNode = makeNode(t, gz.url);
  const plainNode = makeNode(t, plain.url);
  const path = '/v1/accounts/0x1/resources?ledger_version=500';
  const a = await sendToNode(gzNode, get(path), fwd, sendOpts());
  const b = await sendToNode(plainNode, get(path), fwd, sendOpts());
  t.equal(a.status, 200);
  t.equal(a.headers['content-encoding'], 'gzip', 'the node did compress it');
  t.equal(b.headers['content-encoding'], undefined);
  t.ok(a.body.equals(b.body), 'identity bytes, equal to the uncompressed answer');
  t.doesNotThrow(() => JSON.parse(a.body.toString()));
});

t.test('error statuses are answers, not exceptions', async (t) => {
  const n = await fakeNode(t);
  const node = makeNode(t, n.url);
  for (const status of [404, 410, 500, 503]) {
    n.handle((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`{"status":${status}}`);
    });
    const a = await sendToNode(node, get('/v1'), fwd, sendOpts());
    t.equal(a.status, status);
    t.equal(a.body.toString(), `{"status":${status}}`);
  }
  t.equal(node.inflight, 0);
});

t.test('an answer over maxResponseBytes is refused with UpstreamResponseTooLargeError', async (t) => {
  const n = await fakeNode(t);
  const node = makeNode(t, n.url);
  n.handle((_req, res) => res.end(Buffer.alloc(1_001, 'a')));
  const err = await failure(sendToNode(node, get('/v1'), fwd, sendOpts({ maxResponseBytes: 1_000 })));
  t.ok(err instanceof UpstreamResponseTooLargeError, String(err));
  t.equal((err as UpstreamResponseTooLargeError).retryable, false, 'not retryable: every node would send it');
  t.equal((err as UpstreamResponseTooLargeError).status, 502);
  n.handle((_req, res) => res.end(Buffer.alloc(1_000, 'a')));
  const ok = await sendToNode(node, get('/v1'), fwd, sendOpts({ maxResponseBytes: 1_000 }));
  t.equal(ok.body.length, 1_000, 'exactly the limit is fine');
  t.equal(node.inflight, 0);
});

t.test('a streamed (chunked) answer over the limit is cut as soon as it passes it', async (t) => {
  const n = await fakeNode(t);
  const node = makeNode(t, n.url);
  let finishedSending!: Promise<boolean>;
  n.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    finishedSending = new Promise((resolve) => res.on('close', () => resolve(res.writableFinished)));
    // 64 KiB chunks, 32 MiB in all (more than loopback socket buffers hold) if nobody stops reading.
    let sent = 0;
    const pump = () => {
      while (sent < 512) {
        sent++;
        if (!res.write(Buffer.alloc(65_536, 'b'))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const err = await failure(sendToNode(node, get('/v1'), fwd, sendOpts({ maxResponseBytes: 100_000 })));
  t.ok(err instanceof UpstreamResponseTooLargeError, String(err));
  t.equal(await finishedSending, false, 'the proxy hung up before the node had sent it all');
});

t.test('a gzip answer that inflates beyond maxResponseBytes is "too large", like an identity one', async (t) => {
  const n = await fakeNode(t);
  const node = makeNode(t, n.url);
  const identity = Buffer.from(JSON.stringify({ data: 'x'.repeat(50_000) }));
  const compressed = gzipSync(identity);
  t.ok(compressed.length < 10_000 && identity.length > 10_000, 'small on the wire, big inflated');
  n.handle((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    res.end(compressed);
  });
  const err = await failure(sendToNode(node, get('/v1'), fwd, sendOpts({ maxResponseBytes: 10_000 })));
  t.ok(err instanceof UpstreamResponseTooLargeError, `UpstreamResponseTooLargeError (got ${(err as Error).name}: ${(err as Error).message})`);
  t.equal((err as { retryable?: boolean }).retryable, false, 'not retryable, not the node\'s fault');
});

t.test('a broken gzip body or an unknown encoding is a bad response', async (t) => {
  const n = await fakeNode(t);
  const node = makeNode(t, n.url);
  n.handle((_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' });
    res.end(Buffer.from('definitely not gzip'));
  });
  const broken = await failure(sendToNode(node, get('/v1'), fwd, sendOpts()));
  t.ok(broken instanceof UpstreamBadResponseError, String(broken));
  n.handle((_req, res) => {
    res.writeHead(200, { 'content-encoding': 'br' });
    res.end(Buffer.from('xx'));
  });
  const br = await failure(sendToNode(node, get('/v1'), fwd, sendOpts()));
  t.ok(br instanceof UpstreamBadResponseError, String(br));
  t.match((br as Error).message, /br/);
});

t.test('a refused connection is an UpstreamConnectError', async (t) => {
  // Find a port that nothing listens on: listen, note it, close.
  const tmp = http.createServer();
  await new Promise<void>((resolve) => tmp.listen(0, '127.0.0.1', resolve));
  const port = (tmp.address() as AddressInfo).port;
  await new Promise<void>((resolve) => tmp.close(() => resolve()));
  const node = makeNode(t, `http://127.0.0.1:${port}`);
  const err = await failure(sendToNode(node, get('/v1'), fwd, sendOpts()));
  t.ok(err instanceof UpstreamConnectError, String(err));
  t.equal((err as UpstreamConnectError).retryable, true);
  t.equal(node.inflight, 0, 'inflight released on failure');
});

t.test('a node that never sends headers times out as UpstreamTimeoutError', async (t) => {
  const n = await fakeNode(t);
  n.handle(() => undefined); // never answers
  const node = makeNode(t, n.url, '    timeouts: { headersMs: 100 }');
  const err = await failure(sendToNode(node, get('/v1'), fwd, sendOpts()));
  t.ok(err instanceof UpstreamTimeoutError, String(err));
  t.equal((err as UpstreamTimeoutError).status, 504);
});

t.test('an aborted call is reported as a timeout', async (t) => {
  const n = await fakeNode(t);
  n.handle(() => undefined);
  const node = makeNode(t, n.url);
  const err = await failure(sendToNode(node, get('/v1'), fwd, sendOpts({ signal: AbortSignal.timeout(50) })));
  t.ok(err instanceof UpstreamTimeoutError, String(err));
  t.equal(node.inflight, 0);
});

t.test('a connection cut mid-body is a retryable upstream error', async (t) => {
  const n = await fakeNode(t);
  n.handle((_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('{"partial":', () => setTimeout(() => res.socket?.destroy(), 5));
  });
  const node = makeNode(t, n.url);
  const err = await failure(sendToNode(node, get('/v1'), fwd, sendOpts()));
  t.ok(err instanceof UpstreamConnectError || err instanceof UpstreamBadResponseError, String(err));
  t.equal((err as { retryable?: boolean }).retryable, true);
});

t.test('inflight counts requests in progress and the latency average is kept', async (t) => {
  const n = await fakeNode(t);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  n.handle((_req, res) => void gate.then(() => res.end('{}')));
  const node = makeNode(t, n.url);
  const p1 = sendToNode(node, get('/a'), fwd, sendOpts());
  const p2 = sendToNode(node, get('/b'), fwd, sendOpts());
  t.equal(node.inflight, 2);
  while (n.seen.length < 2) await new Promise((r) => setTimeout(r, 5));
  release();
  await Promise.all([p1, p2]);
  t.equal(node.inflight, 0);
  t.ok(node.latencyMs > 0, 'latency sampled');
});
