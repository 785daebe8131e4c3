// Desync fuzz (issue 14): thousands of generated requests — framing headers, Connection tokens,
// methods with and without bodies, upgrades, pipelining — sent by several clients at once through
// one proxy whose pass-through connections to the node are shared by all of them. Every client
// must get the answer to its own request, in order, and the node must parse exactly the requests
// the proxy meant to send: each generated request once, with its body, and nothing else.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { startTestProxy } from '../support/proxy-harness.js';
import { readResponses } from '../support/raw-http.js';
import { startRecordingNode } from '../support/recording-node.js';

const CLIENTS = 8;
const REQUESTS_PER_CLIENT = 400;
const hidden = 'GET /v1/hidden HTTP/1.1\r\nhost: x\r\n\r\n';

/** A small deterministic PRNG, so a failure replays with the same seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  bytes: string;
  method: string;
  path: string;
  /** Body the node must receive (undefined: the request must be refused by the proxy). */
  body?: string;
  /** Status the client must get. */
  status: number;
  /** The proxy closes the connection after this one. */
  last: boolean;
  /** Expected to reach the node. */
  reaches: boolean;
}

function generate(random: () => number, client: number, n: number): Generated {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const method = pick(['GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const);
  const submit = method === 'POST' && random() < 0.3;
  const path = submit ? `/v1/transactions?c=${client}&n=${n}` : `/v1/fz/${client}/${n}${random() < 0.2 ? '/./x/..' : ''}`;
  const expectedPath = path.replace('/./x/..', '/');
  const tokens = ['keep-alive', 'content-length', 'transfer-encoding', 'te', 'host', 'x-junk', 'trailer', 'upgrade'].filter(() => random() < 0.25);
  const headers = [`host: proxy`, `x-tag: ${client}-${n}`];
  if (tokens.length > 0) headers.push(`connection: ${tokens.join(', ')}`);
  if (random() < 0.2) headers.push('x-junk: 1', 'te: trailers');
  const kind = pick(['none', 'none', 'length', 'chunked', 'length-zero', 'both', 'h2c'] as const);
  const text = `${'b'.repeat(Math.floor(random() * 300))}${random() < 0.5 ? hidden : ''}`;
  const status = submit ? 202 : 200;
  if (kind === 'both') {
    // Content-Length and Transfer-Encoding together: node:http refuses it (400) and closes.
    headers.push(`content-length: ${text.length}`, 'transfer-encoding: chunked');
    return { bytes: `${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${chunked(text)}`, method, path: expectedPath, status: 400, last: true, reaches: false };
  }
  if (kind === 'h2c' && (method === 'GET' || method === 'HEAD')) {
    headers.push('upgrade: h2c');
    if (!tokens.includes('upgrade')) headers.push('connection: upgrade');
    return { bytes: `${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, method, path: expectedPath, body: '', status, last: true, reaches: true };
  }
  if (kind === 'length' || kind === 'length-zero') {
    const body = kind === 'length' ? text : '';
    headers.push(`content-length: ${body.length}`);
    return { bytes: `${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`, method, path: expectedPath, body, status, last: false, reaches: true };
  }
  if (kind === 'chunked') {
    headers.push('transfer-encoding: chunked');
    return { bytes: `${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${chunked(text)}`, method, path: expectedPath, body: text, status, last: false, reaches: true };
  }
  return { bytes: `${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, method, path: expectedPath, body: '', status, last: false, reaches: true };
}

function chunked(text: string): string {
  if (text.length === 0) return '0\r\n\r\n';
  const cut = Math.floor(text.length / 2);
  const parts = [text.slice(0, cut), text.slice(cut)].filter((p) => p.length > 0);
  return `${parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('')}0\r\n\r\n`;
}

interface ClientReport { mismatches: string[]; sent: Generated[] }

/** One client: batches of 1–3 pipelined requests on a keep-alive connection, reconnecting when the proxy closes it. */
async function runClient(port: number, client: number, seed: number): Promise<ClientReport> {
  const random = rng(seed);
  const mismatches: string[] = [];
  const sent: Generated[] = [];
  let socket: Socket | undefined;
  let n = 0;
  while (n < REQUESTS_PER_CLIENT) {
    socket ??= connect({ host: '127.0.0.1', port });
    const batch: Generated[] = [];
    const size = 1 + Math.floor(random() * 3);
    while (batch.length < size && n < REQUESTS_PER_CLIENT) {
      const g = generate(random, client, n++);
      batch.push(g);
      if (g.last) break;
    }
    socket.write(batch.map((g) => g.bytes).join(''));
    sent.push(...batch);
    const { responses } = await readResponses(socket, batch.length, 5_000, batch.map((g) => g.method === 'HEAD'));
    batch.forEach((g, i) => {
      const r = responses[i];
      // A malformed request behind others still being answered gets a closed connection, not a 400.
      if (!r && g.status === 400 && g.last) return;
      if (!r) return void mismatches.push(`${g.method} ${g.path}: no answer`);
      if (r.status !== g.status) return void mismatches.push(`${g.method} ${g.path}: status ${r.status}, wanted ${g.status} ${JSON.stringify(batch.map((b) => b.bytes.slice(0, 200)))} -> ${r.body.toString().slice(0, 100)}`);
      if (g.method === 'HEAD' || g.status === 400) return;
      const got = JSON.parse(r.body.toString()) as { url: string; bodyLength: number; method: string };
      if (got.url !== g.path || got.method !== g.method || got.bodyLength !== (g.body ?? '').length) {
        mismatches.push(`${g.method} ${g.path} (${g.body?.length ?? 0} B): got the answer to ${got.method} ${got.url} (${got.bodyLength} B)`);
      }
    });
    if (batch.at(-1)?.last) {
      socket.destroy();
      socket = undefined;
    }
  }
  socket?.destroy();
  return { mismatches, sent };
}

/** WebSocket upgrades with stray framing headers: relayed, echoing, and without a Content-Length at the node. */
async function runUpgrades(port: number, count: number): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = connect({ host: '127.0.0.1', port });
    const extra = i % 2 === 0 ? 'content-length: 7\r\n' : 'connection: content-length, upgrade\r\n';
    s.write(`GET /v1/ws/${i} HTTP/1.1\r\nhost: p\r\nx-tag: ws-${i}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n${extra}sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`);
    const { responses } = await readResponses(s, 1, 5_000);
    if (responses[0]?.status !== 101) problems.push(`upgrade ${i}: ${responses[0]?.status}`);
    const echo = new Promise<string>((resolve) => s.once('data', (c: Buffer) => resolve(c.toString())));
    s.write(`ping-${i}`);
    if ((await echo) !== `ping-${i}`) problems.push(`upgrade ${i}: no echo`);
    s.destroy();
  }
  return problems;
}

t.test('desync fuzz: every client gets its own answers; the node parses exactly what was meant', async (t) => {
  const node = await startRecordingNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  upgrades: { maxPerClient: 64 }
  shutdown: { drainDelayMs: 0, deadlineMs: 2000 }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url} }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  node.reset();
  const port = Number(new URL(proxy.url).port);
  const seed = Number(process.env['FUZZ_SEED'] ?? 20261201);
  const [reports, upgradeProblems] = await Promise.all([
    Promise.all(Array.from({ length: CLIENTS }, (_, c) => runClient(port, c, seed + c))),
    runUpgrades(port, 40),
  ]);
  const mismatches = reports.flatMap((r) => r.mismatches);
  t.same(mismatches.slice(0, 30), [], `every client got the answer to its own request (seed ${seed})`);
  t.same(upgradeProblems, [], 'every upgrade relayed');
  const expected = reports.flatMap((r) => r.sent).filter((g) => g.reaches).map((g) => `${g.method} ${g.path} ${(g.body ?? '').length}`).sort();
  const parsed = node.requests.filter((r) => !r.upgrade && (r.url.startsWith('/v1/fz/') || r.url.startsWith('/v1/transactions') || r.url.startsWith('/v1/hidden')))
    .map((r) => `${r.method} ${r.url} ${r.body.length}`).sort();
  t.equal(parsed.length, expected.length, `the node parsed ${parsed.length} requests, ${expected.length} were meant`);
  t.same(parsed, expected, 'the node parsed exactly the requests the proxy meant to send');
  if (process.env['FUZZ_DEBUG']) {
    const seen = new Map<string, number>();
    for (const r of node.requests) seen.set(r.url, (seen.get(r.url) ?? 0) + 1);
    const dup = node.requests.filter((r) => (seen.get(r.url) ?? 0) > 1).slice(0, 4);
    t.comment(JSON.stringify(dup.map((r) => ({ url: r.url, conn: r.conn, h: r.rawHeaders }))));
    const sent = reports.flatMap((r) => r.sent).filter((g) => dup.some((d) => d.url === g.path));
    t.comment(JSON.stringify(sent.map((g) => g.bytes.slice(0, 300))));
  }
  t.notOk(node.requests.some((r) => r.url.startsWith('/v1/hidden')), 'no hidden request');
  t.same(node.parseErrors.slice(0, 10), [], 'no framing the node could not parse');
  const upgrades = node.requests.filter((r) => r.upgrade);
  t.equal(upgrades.length, 40);
  t.notOk(upgrades.some((r) => r.headers['content-length'] !== undefined), 'no upgrade carried a Content-Length');
  const clientsPerConn = new Map<number, Set<string>>();
  for (const r of node.requests) {
    const client = /^\/v1\/fz\/(\d+)\//.exec(r.url)?.[1];
    if (client === undefined) continue;
    if (!clientsPerConn.has(r.conn)) clientsPerConn.set(r.conn, new Set());
    clientsPerConn.get(r.conn)?.add(client);
  }
  const connections = clientsPerConn;
  const shared = [...clientsPerConn.values()].filter((c) => c.size > 1).length;
  t.ok(shared > 10, `node connections carried requests of several clients (${shared} of ${clientsPerConn.size})`);
  t.comment(`${CLIENTS * REQUESTS_PER_CLIENT} requests, ${parsed.length} reached the node over ${connections.size} connections`);
});
