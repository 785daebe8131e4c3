/**
 * A small EVM JSON-RPC node in its own child process, so that it can be hung for real: SIGSTOP
 * freezes the process while the kernel keeps accepting connections and buffering requests (what
 * a stuck node looks like from outside), SIGCONT lets it go on, SIGKILL ends it. It can also
 * answer after a fixed latency (a slow node). Test support only; not run as a test.
 *
 * Answers are a pure function of the request, identical on every node: eth_blockNumber → its head,
 * eth_getBalance(a, b) → f(a, b), eth_call → the block it was asked for, eth_chainId, and
 * eth_sendRawTransaction → a fixed hash. The node counts what it was asked (`stats()`, which only
 * answers while the process runs): per method, per method+first param, and the highest block
 * number any read asked for.
 *
 * Pass-through traffic (counted per `METHOD /path` in byMethod): `GET /pt/blob/<n>` → a body that
 * is a pure function of n (1..32 KB, with an ETag), `GET /pt/ndjson/<lines>` → that many NDJSON
 * lines, streamed with backpressure, `GET /pt/sse` → an event stream whose first event is sent at
 * once and whose last comes when `GET /pt/release` is asked, `POST /v1/transactions` → 202 with a
 * fixed hash (an Aptos submit, for write tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface ProcessNodeOptions {
  /** Head the node reports (eth_blockNumber) and serves up to. */
  head: number;
  /** Delay before every answer, ms. */
  latencyMs?: number;
}

export interface ProcessNodeStats {
  requests: number;
  byMethod: Record<string, number>;
  byCall: Record<string, number>;
  maxBlock: number;
}

export interface ProcessNode {
  readonly url: string;
  readonly pid: number;
  /** SIGSTOP: accepts connections, answers nothing. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  stats(): Promise<ProcessNodeStats>;
  /** Resumes (so buffered requests drain) and kills; safe to call twice. For t.teardown. */
  stop(): Promise<void>;
}

/** The child's program: plain JavaScript, no imports to resolve, starts in ~50 ms. */
const CHILD = String.raw`
const http = require('node:http');
const head = Number(process.env.NODE_HEAD);
const latency = Number(process.env.NODE_LATENCY_MS || 0);
const stats = { requests: 0, byMethod: {}, byCall: {}, maxBlock: -1 };
const hex = (n) => '0x' + BigInt(n).toString(16);
const blockOf = (tag) => (typeof tag === 'string' && /^0x[0-9a-f]+$/i.test(tag) ? Number(BigInt(tag)) : head);
function answer(call) {
  const p = Array.isArray(call.params) ? call.params : [];
  if (call.method === 'test_stats') return { result: stats };
  stats.requests++;
  stats.byMethod[call.method] = (stats.byMethod[call.method] || 0) + 1;
  const ck = call.method + ':' + JSON.stringify(p[0] ?? null);
  stats.byCall[ck] = (stats.byCall[ck] || 0) + 1;
  switch (call.method) {
    case 'eth_blockNumber': return { result: hex(head) };
    case 'eth_chainId': return { result: '0x539' };
    case 'eth_getBalance': case 'eth_call': {
      const b = blockOf(p[1]);
      if (b > stats.maxBlock) stats.maxBlock = b;
      if (b > head) return { error: { code: -32000, message: 'header not found' } };
      const seed = call.method === 'eth_call' ? 7 : parseInt(String(p[0]).slice(-6), 16) || 1;
      return { result: hex(BigInt(seed) * 1000003n + BigInt(b)) };
    }
    case 'eth_sendRawTransaction': return { result: '0x' + 'ab'.repeat(32) };
    default: return { error: { code: -32601, message: 'method not found' } };
  }
}
const held = [];
function blob(n) {
  const size = 1024 + (n * 7919) % 31744;
  const line = 'blob ' + n + ' ';
  return line.repeat(Math.ceil(size / line.length)).slice(0, size);
}
function passThrough(req, res) {
  const path = (req.url || '/').split('?')[0];
  const key = req.method + ' ' + (path.startsWith('/pt/blob/') ? '/pt/blob' : path.startsWith('/pt/ndjson/') ? '/pt/ndjson' : path);
  stats.requests++;
  stats.byMethod[key] = (stats.byMethod[key] || 0) + 1;
  if (path === '/v1/transactions' && req.method === 'POST') {
    req.resume();
    req.on('end', () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{"hash":"0x' + 'cd'.repeat(32) + '"}'); });
    return;
  }
  if (path.startsWith('/pt/blob/')) {
    const body = blob(Number(path.slice(9)) || 0);
    return setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain', etag: '"' + path.slice(9) + '"' }); res.end(body); }, latency);
  }
  if (path.startsWith('/pt/ndjson/')) {
    const lines = Number(path.slice(11)) || 0;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    let i = 0;
    const pump = () => {
      while (i < lines) {
        const ok = res.write(JSON.stringify({ i, pad: 'z'.repeat(200) }) + '\n');
        i++;
        if (!ok) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (path === '/pt/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: first\n\n');
    held.push(res);
    return;
  }
  if (path === '/pt/release') {
    for (const h of held.splice(0)) h.end('data: last\n\n');
    return res.end('released');
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('no such path');
}
const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || (req.url || '').startsWith('/v1/transactions')) return passThrough(req, res);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let doc;
    try { doc = JSON.parse(Buffer.concat(chunks).toString() || 'null'); } catch { doc = null; }
    const one = (c) => ({ jsonrpc: '2.0', id: c && c.id !== undefined ? c.id : null, ...(c && typeof c.method === 'string' ? answer(c) : { error: { code: -32600, message: 'bad request' } }) });
    const isStats = doc && doc.method === 'test_stats';
    const body = JSON.stringify(Array.isArray(doc) ? doc.map(one) : one(doc));
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, isStats ? 0 : latency);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
`;

export async function startProcessNode(opts: ProcessNodeOptions): Promise<ProcessNode> {
  const child = spawn(process.execPath, ['-e', CHILD], {
    env: { ...process.env, NODE_HEAD: String(opts.head), NODE_LATENCY_MS: String(opts.latencyMs ?? 0) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await readPort(child);
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stats: () => nodeStats(url),
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('process node did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`process node exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n') && line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
}

async function nodeStats(url: string): Promise<ProcessNodeStats> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"test_stats"}' });
  const doc = (await res.json()) as { result: ProcessNodeStats };
  return doc.result;
}
