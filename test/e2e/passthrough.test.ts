// Streams, big answers and WebSockets pass through without being held in memory; hop-by-hop
// headers stay on their hop; forwarding headers and request ids are set.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { WebSocket, WebSocketServer } from 'ws';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

interface StreamNode { url: string; server: Server; seen: IncomingMessage[]; release(): void; close(): Promise<void> }

/** A real node that streams: SSE that waits for the test, a 12 MB chunked answer, a WebSocket echo. */
async function startStreamNode(): Promise<StreamNode> {
  const seen: IncomingMessage[] = [];
  let release = () => undefined as void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const server = createServer((req, res) => {
    seen.push(req);
    if (req.url === '/v1') {
      res.writeHead(200, { 'content-type': 'application/json', 'x-aptos-ledger-version': '42' });
      return res.end(JSON.stringify({ chain_id: 4, ledger_version: '42', block_height: '10' }));
    }
    if (req.url === '/v1/events/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'keep-alive': 'timeout=5', 'x-hop': 'no' , connection: 'keep-alive, x-hop' });
      res.write('data: first\n\n');
      void gate.then(() => res.end('data: last\n\n'));
      return;
    }
    if (req.url?.startsWith('/v1/accounts/0x1/resources')) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-aptos-ledger-version': '42' });
      return res.end(JSON.stringify([{ type: 'big', data: 'x'.repeat(5000) }]));
    }
    if (req.url === '/v1/huge') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const line = `${JSON.stringify({ v: 'y'.repeat(1000) })}\n`;
      let sent = 0;
      const pump = () => {
        while (sent < 12_000) {
          sent++;
          if (!res.write(line)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"message":"nope","error_code":"not_found"}');
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, server, seen, release: () => release(),
    close: () => new Promise((r) => { wss.close(); server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function setup(t: TapTest, extra = '') {
  const node = await startStreamNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, maxResponseBytes: 2000 ${extra} }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  return { node, proxy };
}

t.test('an event stream reaches the client before the node has finished it', async (t) => {
  const { node, proxy } = await setup(t);
  const firstChunk = await new Promise<{ chunk: string; headers: IncomingMessage['headers']; res: IncomingMessage }>((resolve, reject) => {
    httpRequest(`${proxy.url}/v1/events/stream`, (res) => {
      res.once('data', (c: Buffer) => resolve({ chunk: c.toString(), headers: res.headers, res }));
    }).on('error', reject).end();
  });
  t.equal(firstChunk.chunk, 'data: first\n\n', 'first event arrived while the stream is still open');
  t.equal(firstChunk.headers['x-cache'], 'BYPASS');
  t.equal(firstChunk.headers['x-hop'], undefined, 'a header listed in Connection is hop-by-hop');
  const rest = new Promise<string>((resolve) => {
    let text = '';
    firstChunk.res.on('data', (c: Buffer) => { text += c.toString(); }).on('end', () => resolve(text));
  });
  node.release();
  t.equal(await rest, 'data: last\n\n');
});

t.test('an answer far bigger than maxResponseBytes streams through intact', async (t) => {
  const { proxy } = await setup(t);
  const res = await request(`${proxy.url}/v1/huge`, { timeoutMs: 20_000 });
  t.equal(res.status, 200);
  t.equal(res.body.length, 12_000 * (JSON.stringify({ v: "y".repeat(1000) }).length + 1));
  t.equal(res.text().split('\n').filter(Boolean).length, 12_000);
});

t.test('a parsed read whose answer is too big to buffer is streamed instead of failing', async (t) => {
  const { proxy } = await setup(t);
  const res = await request(`${proxy.url}/v1/accounts/0x1/resources?ledger_version=40`);
  t.equal(res.status, 200);
  t.equal(res.json<Array<{ data: string }>>()[0]?.data.length, 5000);
  t.equal(res.header('x-cache'), 'BYPASS', 'not cached');
});

t.test('forwarding headers and request ids', async (t) => {
  const { node, proxy } = await setup(t);
  node.seen.length = 0;
  const res = await request(`${proxy.url}/v1/other`, { headers: { 'x-request-id': 'req-123', 'x-forwarded-for': '6.6.6.6', 'proxy-authorization': 'secret', te: 'trailers' } });
  t.equal(res.status, 404);
  t.match(res.json(), { error_code: 'not_found' }, 'the node answer is passed on as it is');
  t.equal(res.header('x-request-id'), 'req-123', 'a client request id is kept');
  const seen = node.seen.at(-1);
  t.equal(seen?.headers['x-request-id'], 'req-123');
  t.equal(seen?.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted X-Forwarded-For is replaced');
  t.equal(seen?.headers['x-forwarded-proto'], 'http');
  t.equal(seen?.headers['proxy-authorization'], undefined, 'hop-by-hop header not forwarded');
  const generated = await request(`${proxy.url}/v1/other`);
  t.match(generated.header('x-request-id'), /^[0-9a-f-]{36}$/, 'generated when absent');
});

t.test('a WebSocket upgrade is proxied to the primary', async (t) => {
  const { proxy } = await setup(t);
  const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}/v1/ws`);
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  const reply = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
  ws.send('hello');
  t.equal(await reply, 'echo:hello');
  ws.close();
});
