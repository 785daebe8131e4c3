// A lean mock blockchain node for load tests, run as its own process:
//   node --import tsx bench/mock-node.ts [--latency-ms 5] [--resources-bytes 2048] ...
// Aptos REST: GET /v1 (ledger info), POST /v1/view, GET /v1/accounts/{a}/resources, honouring
// ?ledger_version and sending the X-Aptos-* headers. JSON-RPC (any other POST path): eth_blockNumber,
// eth_chainId, net_version, eth_call, eth_getBalance, eth_getTransactionCount, single or batched.
// Both ledgers advance with the wall clock (no timers). Answers are pure functions of the request
// and the version, cheap to compute. Every request is counted on arrival, before the latency.
// Pass-through (scenario p, never delayed): POST /v1/transactions → 202 with a hash at once (a
// transaction submit), GET /v1/stream/bytes?n=N → N bytes streamed in 64 KiB chunks with
// backpressure, GET /v1/stream/ndjson?mb=M → M MiB of NDJSON lines, same; a WebSocket echo on any path.
// Control (never delayed, never counted): GET /__calls, POST /__reset, POST /__latency?ms=N.
// Prints `READY {"port":N}` on stdout once listening on 127.0.0.1.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'latency-ms': { type: 'string', default: '0' },
    'aptos-start': { type: 'string', default: '100000000' },
    'aptos-tick-ms': { type: 'string', default: '100' },
    'aptos-per-tick': { type: 'string', default: '50' },
    'evm-start': { type: 'string', default: '20000000' },
    'evm-block-ms': { type: 'string', default: '1000' },
    'resources-bytes': { type: 'string', default: '2048' },
  },
});

const num = (k: keyof typeof args): number => Number(args[k]);
let latencyMs = num('latency-ms');
const startedAt = Date.now();
const APTOS_START = num('aptos-start');
const APTOS_TICK_MS = num('aptos-tick-ms');
const APTOS_PER_TICK = num('aptos-per-tick');
const EVM_START = num('evm-start');
const EVM_BLOCK_MS = num('evm-block-ms');
const RESOURCES_BYTES = num('resources-bytes');

function aptosTicks(): number {
  return Math.floor((Date.now() - startedAt) / APTOS_TICK_MS);
}
function aptosVersion(): number {
  return APTOS_START + aptosTicks() * APTOS_PER_TICK;
}
function evmBlock(): number {
  return EVM_START + Math.floor((Date.now() - startedAt) / EVM_BLOCK_MS);
}

interface Counters {
  http: number;
  submits: number;
  streams: number;
  ledger_info: number;
  view: number;
  resources: number;
  other: number;
  rpc_http: number;
  rpc_calls: number;
  rpc_by_method: Record<string, number>;
}
const fresh = (): Counters => ({ http: 0, submits: 0, streams: 0, ledger_info: 0, view: 0, resources: 0, other: 0, rpc_http: 0, rpc_calls: 0, rpc_by_method: {} });
let calls = fresh();

// ---- cheap deterministic content -------------------------------------------------------------

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** xorshift32 stream of hex digits. */
function hexStream(seed: number): (chars: number) => string {
  let x = seed || 0x9e3779b9;
  return (chars) => {
    let out = '';
    while (out.length < chars) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out += (x >>> 0).toString(16).padStart(8, '0');
    }
    return out.slice(0, chars);
  };
}

function aptosHeaders(version: number): string[] {
  const ticks = Math.floor((version - APTOS_START) / APTOS_PER_TICK);
  const height = Math.floor(APTOS_START / 4) + ticks;
  return [
    'content-type', 'application/json; charset=utf-8',
    'x-aptos-chain-id', '1',
    'x-aptos-ledger-version', String(version),
    'x-aptos-ledger-oldest-version', '0',
    'x-aptos-ledger-timestampusec', String(1_700_000_000_000_000 + height * 250_000),
    'x-aptos-epoch', String(1 + Math.floor(height / 10_000)),
    'x-aptos-block-height', String(height),
    'x-aptos-oldest-block-height', '0',
  ];
}

function ledgerInfo(version: number): string {
  const h = aptosHeaders(version);
  return JSON.stringify({
    chain_id: 1,
    epoch: h[11],
    ledger_version: String(version),
    oldest_ledger_version: '0',
    ledger_timestamp: h[9],
    node_role: 'full_node',
    oldest_block_height: '0',
    block_height: h[13],
    git_hash: 'ledgerproxy-bench',
  });
}

function viewAnswer(body: string, version: number): string {
  const a = fnv1a(body);
  return `["${(BigInt(a) * 1_000_003n + BigInt(version)).toString()}"]`;
}

function resourcesAnswer(address: string, version: number): string {
  const hex = hexStream(fnv1a(address) ^ version);
  const guid = (n: number) => `{"id":{"addr":"${address}","creation_num":"${n}"}}`;
  const parts: string[] = [
    `{"type":"0x1::account::Account","data":{"authentication_key":"0x${hex(64)}","coin_register_events":{"counter":"1","guid":${guid(0)}},"guid_creation_num":"4","key_rotation_events":{"counter":"0","guid":${guid(1)}},"rotation_capability_offer":{"for":{"vec":[]}},"sequence_number":"${version % 977}","signer_capability_offer":{"for":{"vec":[]}}}}`,
    `{"type":"0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>","data":{"coin":{"value":"${parseInt(hex(10), 16)}"},"deposit_events":{"counter":"${version % 313}","guid":${guid(2)}},"frozen":false,"withdraw_events":{"counter":"${version % 211}","guid":${guid(3)}}}}`,
  ];
  let size = parts[0]!.length + parts[1]!.length;
  for (let i = 0; size < RESOURCES_BYTES; i++) {
    const p = `{"type":"0x${hex(64)}::collection::Token<0x${hex(8)}::t${i}::T>","data":{"hash":"0x${hex(64)}","owner":"${address}","amount":"${parseInt(hex(6), 16)}","uri":"ipfs://${hex(46)}"}}`;
    parts.push(p);
    size += p.length + 1;
  }
  return `[${parts.join(',')}]`;
}

// ---- JSON-RPC ---------------------------------------------------------------------------------

interface RpcRequest {
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

function rpcAnswer(req: RpcRequest, head: number): string {
  const id = req.id === undefined ? 'null' : JSON.stringify(req.id);
  const method = typeof req.method === 'string' ? req.method : '';
  calls.rpc_calls++;
  calls.rpc_by_method[method] = (calls.rpc_by_method[method] ?? 0) + 1;
  const ok = (result: string) => `{"jsonrpc":"2.0","id":${id},"result":${result}}`;
  const fail = (code: number, message: string) => `{"jsonrpc":"2.0","id":${id},"error":{"code":${code},"message":${JSON.stringify(message)}}}`;
  const params = Array.isArray(req.params) ? (req.params as unknown[]) : [];
  const block = (i: number): number | undefined => {
    const tag = params[i];
    if (tag === undefined || tag === 'latest' || tag === 'pending' || tag === 'safe' || tag === 'finalized') return head;
    if (tag === 'earliest') return 0;
    return typeof tag === 'string' && /^0x[0-9a-fA-F]+$/.test(tag) ? parseInt(tag, 16) : undefined;
  };
  switch (method) {
    case 'eth_blockNumber':
      return ok(`"0x${head.toString(16)}"`);
    case 'eth_chainId':
      return ok('"0x1"');
    case 'net_version':
      return ok('"1"');
    case 'eth_call':
    case 'eth_getBalance':
    case 'eth_getTransactionCount': {
      const b = block(1);
      if (b === undefined) return fail(-32602, 'invalid block parameter');
      if (b > head) return fail(-32000, 'header not found');
      const seed = fnv1a(JSON.stringify(params[0] ?? null)) ^ b;
      if (method === 'eth_call') return ok(`"0x${hexStream(seed)(64)}"`);
      if (method === 'eth_getBalance') return ok(`"0x${hexStream(seed)(15).replace(/^0+/, '') || '0'}"`);
      return ok(`"0x${(seed % 5000).toString(16)}"`);
    }
    default:
      return fail(-32601, `the method ${method} does not exist/is not available`);
  }
}

function serveRpc(body: string, res: ServerResponse): void {
  calls.rpc_http++;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return send(res, 200, ['content-type', 'application/json'], '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}');
  }
  const head = evmBlock();
  const text = Array.isArray(doc)
    ? `[${doc.map((r) => rpcAnswer((r ?? {}) as RpcRequest, head)).join(',')}]`
    : rpcAnswer((doc ?? {}) as RpcRequest, head);
  send(res, 200, ['content-type', 'application/json'], text);
}

// ---- HTTP -------------------------------------------------------------------------------------

function send(res: ServerResponse, status: number, headers: string[], body: string): void {
  const answer = () => {
    const buf = Buffer.from(body);
    res.writeHead(status, [...headers, 'content-length', String(buf.length)]);
    res.end(buf);
  };
  if (latencyMs > 0) setTimeout(answer, latencyMs);
  else answer();
}

function aptosError(res: ServerResponse, status: number, code: string, message: string, version: number): void {
  send(res, status, aptosHeaders(version), JSON.stringify({ message, error_code: code, vm_error_code: null }));
}

const RESOURCES = /^\/v1\/accounts\/([^/]+)\/resources$/;
const SUBMIT_ANSWER = Buffer.from(`{"hash":"0x${'5e'.repeat(32)}","sender":"0x1","sequence_number":"0"}`);
const STREAM_CHUNK = Buffer.alloc(64 * 1024, 'x');
const NDJSON_LINE = Buffer.from(`${JSON.stringify({ type: 'event', data: 'y'.repeat(1000) })}\n`);
const NDJSON_CHUNK = Buffer.concat(Array.from({ length: 64 }, () => NDJSON_LINE));

/** Sends `total` bytes made of `chunk` (the last one cut), honouring backpressure. */
function streamOut(res: ServerResponse, contentType: string, chunk: Buffer, total: number): void {
  calls.streams++;
  res.writeHead(200, { 'content-type': contentType });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const part = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
      sent += part.length;
      if (!res.write(part)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

/** Scenario p's endpoints; false: not one of them. */
function servePassThrough(req: IncomingMessage, res: ServerResponse, path: string, query: string): boolean {
  if (path === '/v1/transactions' && req.method === 'POST') {
    calls.submits++;
    res.writeHead(202, ['content-type', 'application/json', 'content-length', String(SUBMIT_ANSWER.length)]);
    res.end(SUBMIT_ANSWER);
    return true;
  }
  if (path === '/v1/stream/bytes' && req.method === 'GET') {
    streamOut(res, 'application/octet-stream', STREAM_CHUNK, Number(/(?:^|&)n=(\d+)/.exec(query)?.[1] ?? 1_048_576));
    return true;
  }
  if (path === '/v1/stream/ndjson' && req.method === 'GET') {
    streamOut(res, 'application/x-ndjson', NDJSON_CHUNK, Number(/(?:^|&)mb=(\d+)/.exec(query)?.[1] ?? 100) * 1_048_576);
    return true;
  }
  return false;
}

function serveAptos(req: IncomingMessage, res: ServerResponse, path: string, query: string, body: string): void {
  const current = aptosVersion();
  const lvText = /(?:^|&)ledger_version=(\d+)/.exec(query)?.[1];
  const lv = lvText === undefined ? current : Number(lvText);
  if (lv > current) return aptosError(res, 404, 'version_not_found', `Ledger version(${lv}) not found, latest ledger version: ${current}`, current);
  if (path === '/v1' || path === '/v1/') {
    calls.ledger_info++;
    return send(res, 200, aptosHeaders(current), ledgerInfo(current));
  }
  if (path === '/v1/view' && req.method === 'POST') {
    calls.view++;
    return send(res, 200, aptosHeaders(current), viewAnswer(body, lv));
  }
  const m = RESOURCES.exec(path);
  if (m && req.method === 'GET') {
    calls.resources++;
    return send(res, 200, aptosHeaders(current), resourcesAnswer(m[1] ?? '0x0', lv));
  }
  calls.other++;
  aptosError(res, 404, 'web_framework_error', `not found: ${path}`, current);
}

function control(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
  const json = (v: unknown) => {
    const text = JSON.stringify(v);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (path === '/__calls') return json({ ...calls, aptos_version: aptosVersion(), evm_block: evmBlock(), latency_ms: latencyMs });
  if (path === '/__reset' && req.method === 'POST') {
    calls = fresh();
    return json({ ok: true });
  }
  if (path === '/__latency' && req.method === 'POST') {
    latencyMs = Number(/(?:^|&)ms=(\d+)/.exec(query)?.[1] ?? latencyMs);
    return json({ latency_ms: latencyMs });
  }
  res.writeHead(404).end();
}

const server = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  if (path.startsWith('/__')) {
    req.resume();
    req.on('end', () => control(req, res, path, query));
    return;
  }
  calls.http++;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8');
    if (servePassThrough(req, res, path, query)) return;
    if (path === '/v1' || path.startsWith('/v1/')) serveAptos(req, res, path, query, body);
    else if (req.method === 'POST') serveRpc(body, res);
    else {
      calls.other++;
      send(res, 404, ['content-type', 'application/json'], '{"error":"not found"}');
    }
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));

server.listen(Number(args.port), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`READY ${JSON.stringify({ port })}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
// Never outlive the benchmark that started us.
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 1000).unref();
