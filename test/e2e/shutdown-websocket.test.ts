// Drain and open WebSockets: node:http does not track upgraded sockets, so without the relay's
// registry an open tunnel would outlive the shutdown (and hold server.close() until the deadline,
// then the process would exit under a client that still thinks it is subscribed).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { startTestProxy } from '../support/proxy-harness.js';
import type { TapTest } from '../support/tap-test.js';

async function echoNode(t: TapTest): Promise<string> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/v1' ? 200 : 404, { 'content-type': 'application/json', 'x-aptos-ledger-version': '42' });
    res.end(JSON.stringify({ chain_id: 4, ledger_version: '42', block_height: '10' }));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { wss.close(); server.closeAllConnections(); server.close(() => r()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws)).once('error', reject);
  });
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (m: Buffer) => resolve(m.toString()));
    ws.send(text);
  });
}

t.test('shutdown closes open WebSocket tunnels, well before the drain deadline', async (t) => {
  const node = await echoNode(t);
  const proxy = await startTestProxy(`
server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  shutdown: { drainDelayMs: 100, deadlineMs: 8000 }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node} }
routes:
  - { match: { pathPrefix: /v1 }, upstream: aptos }
`);
  const sockets = await Promise.all([0, 1, 2].map(() => openWs(`${proxy.url.replace('http', 'ws')}/v1/stream`)));
  for (const [i, ws] of sockets.entries()) t.equal(await echo(ws, `m${i}`), `echo:m${i}`, `tunnel ${i} relays`);
  const closed = sockets.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
  const started = performance.now();
  await proxy.running.shutdown();
  await Promise.all(closed);
  const took = performance.now() - started;
  t.ok(took < 4_000, `shutdown done and every tunnel closed in ${Math.round(took)} ms (deadline 8000 ms)`);
  t.ok(sockets.every((ws) => ws.readyState === WebSocket.CLOSED), 'the clients see their sockets closed');
});
