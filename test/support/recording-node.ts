// A real node:http server that records everything it is sent: each connection's raw bytes, each
// request its parser found (method, path, headers, body), each parse error and each upgrade. It
// answers every request with JSON that names the request (`tag` = its x-tag header, path, body
// length, connection number), so a test can tell whether a client got the answer to its own
// request; it speaks just enough of the Aptos ledger-info and JSON-RPC shapes for the proxy's head
// polls, answers `POST /v1/transactions` with 202, and accepts WebSocket upgrades (101, then echo
// of raw bytes). Paths under /slow/ wait `slowMs` before answering.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  conn: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  upgrade: boolean;
}

export interface RecordingNode {
  url: string;
  port: number;
  server: Server;
  requests: RecordedRequest[];
  /** Raw bytes received, per connection number. */
  raw: Map<number, Buffer[]>;
  parseErrors: string[];
  /** WebSocket tunnels the node still holds open. */
  openUpgrades(): number;
  /** Requests carrying an x-tag header (the test's own, not the proxy's head polls). */
  tagged(): RecordedRequest[];
  rawText(): string;
  reset(): void;
  close(): Promise<void>;
}

export async function startRecordingNode(opts: { slowMs?: number } = {}): Promise<RecordingNode> {
  const requests: RecordedRequest[] = [];
  const raw = new Map<number, Buffer[]>();
  const parseErrors: string[] = [];
  const sockets = new Set<Socket>();
  const connIds = new WeakMap<Socket, number>();
  let nextConn = 0;
  let upgradesOpen = 0;
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec: RecordedRequest = { conn: connIds.get(req.socket) ?? -1, method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body, upgrade: false };
      requests.push(rec);
      const reply = () => answer(rec, res);
      if (rec.url.includes('/slow/')) setTimeout(reply, opts.slowMs ?? 50);
      else reply();
    });
  });
  server.on('connection', (socket: Socket) => {
    const id = nextConn++;
    connIds.set(socket, id);
    sockets.add(socket);
    const bytes: Buffer[] = [];
    raw.set(id, bytes);
    socket.on('data', (c: Buffer) => bytes.push(c));
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    parseErrors.push(`${err.code ?? err.message}`);
    socket.destroy();
  });
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    requests.push({ conn: connIds.get(socket) ?? -1, method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: head, upgrade: true });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    upgradesOpen++;
    socket.on('data', (c: Buffer) => socket.write(c));
    socket.on('error', () => socket.destroy());
    socket.once('end', () => socket.end());
    socket.once('close', () => upgradesOpen--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    raw,
    parseErrors,
    openUpgrades: () => upgradesOpen,
    tagged: () => requests.filter((r) => r.headers['x-tag'] !== undefined),
    rawText: () => [...raw.values()].map((b) => Buffer.concat(b).toString('latin1')).join('\n--conn--\n'),
    reset: () => {
      requests.length = 0;
      raw.clear();
      parseErrors.length = 0;
    },
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

function answer(rec: RecordedRequest, res: import('node:http').ServerResponse): void {
  if (rec.url === '/v1' || rec.url.startsWith('/v1?')) {
    res.writeHead(200, { 'content-type': 'application/json', 'x-aptos-ledger-version': '100', 'x-aptos-block-height': '10' });
    return void res.end(JSON.stringify({ chain_id: 4, ledger_version: '100', block_height: '10', oldest_ledger_version: '0' }));
  }
  if (rec.method === 'POST' && rec.headers['content-type'] === 'application/json' && rec.body[0] !== undefined && !rec.url.startsWith('/v1')) {
    return void jsonRpc(rec, res);
  }
  const status = rec.method === 'POST' && rec.url.startsWith('/v1/transactions') ? 202 : 200;
  const text = JSON.stringify({ tag: rec.headers['x-tag'] ?? null, method: rec.method, url: rec.url, bodyLength: rec.body.length, conn: rec.conn });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(rec.method === 'HEAD' ? undefined : text);
}

/** JSON-RPC: every call answered with result "0x64" (block 100), batches in order. */
function jsonRpc(rec: RecordedRequest, res: import('node:http').ServerResponse): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rec.body.toString());
  } catch {
    res.writeHead(400);
    return void res.end();
  }
  const one = (c: { id?: unknown; method?: string }) => ({ jsonrpc: '2.0', id: c.id ?? null, result: c.method === 'eth_chainId' ? '0x1' : '0x64' });
  const out = Array.isArray(parsed) ? parsed.map(one) : one(parsed as { id?: unknown });
  const text = JSON.stringify(out);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
