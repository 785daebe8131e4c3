// Issue 14, finding by finding, over raw sockets: what each client gets back and what the node
// parsed (test/support/recording-node.ts records every byte and every request it saw).
import t from 'tap';
import { connect } from 'node:net';
import type { TapTest } from '../support/tap-test.js';
import { request } from '../support/http-client.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';
import { rawExchange, readResponses } from '../support/raw-http.js';
import { startRecordingNode, type RecordingNode } from '../support/recording-node.js';

const KEY = 'k'.repeat(20);
const TOKEN = 't'.repeat(20);

async function setup(t: TapTest, server = '', upstream = '', primaryUrl?: (n: RecordingNode) => string): Promise<{ node: RecordingNode; proxy: TestProxy; port: number }> {
  const node = await startRecordingNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  adminToken: ${TOKEN}
  maxBodyBytes: 1048576
  shutdown: { drainDelayMs: 0, deadlineMs: 2000 }
${server}
upstreams:
  aptos:
    dialect: aptos-rest
    primary: ${primaryUrl ? primaryUrl(node) : node.url}
${upstream}
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  node.reset();
  return { node, proxy, port: Number(new URL(proxy.url).port) };
}

const hidden = 'GET /v1/hidden HTTP/1.1\r\nhost: x\r\nx-tag: hidden\r\n\r\n';

/** The victim: a transaction submit on its own connection, after the attacker's request. */
async function victimSubmit(t: TapTest, port: number, node: RecordingNode): Promise<void> {
  const body = '{"sender":"0x1"}';
  const { responses } = await rawExchange(port, `POST /v1/transactions HTTP/1.1\r\nhost: p\r\nx-tag: victim\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  t.equal(responses[0]?.status, 202, 'the victim gets the answer to its own submit');
  t.equal(JSON.parse(responses[0]?.body.toString() ?? '{}').tag, 'victim', 'and not the answer to a hidden request');
  t.notOk(node.requests.some((r) => r.url === '/v1/hidden'), 'the node never parsed a hidden request');
  t.same(node.parseErrors, [], 'the node never saw malformed framing');
}

t.test('finding 1: Connection cannot remove framing; bodies on GET/DELETE/OPTIONS are re-framed', async (t) => {
  const { node, proxy, port } = await setup(t);
  const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n0\r\n\r\n`;
  const variants: Array<[string, string]> = [
    ['GET + Connection: content-length', `GET /v1/a HTTP/1.1\r\nhost: p\r\nx-tag: a\r\nconnection: content-length\r\ncontent-length: ${hidden.length}\r\n\r\n${hidden}`],
    ['GET + Connection: transfer-encoding', `GET /v1/b HTTP/1.1\r\nhost: p\r\nx-tag: b\r\nconnection: transfer-encoding\r\ntransfer-encoding: chunked\r\n\r\n${chunk(hidden)}`],
    ['chunked DELETE', `DELETE /v1/c HTTP/1.1\r\nhost: p\r\nx-tag: c\r\ntransfer-encoding: chunked\r\n\r\n${chunk(hidden)}`],
    ['chunked OPTIONS', `OPTIONS /v1/d HTTP/1.1\r\nhost: p\r\nx-tag: d\r\ntransfer-encoding: chunked\r\n\r\n${chunk(hidden)}`],
  ];
  for (const [name, bytes] of variants) {
    node.reset();
    const { responses } = await rawExchange(port, bytes);
    t.equal(responses[0]?.status, 200, `${name}: answered`);
    const tagged = node.tagged();
    t.equal(tagged.length, 1, `${name}: the node parsed exactly one request`);
    t.equal(tagged[0]?.body.toString(), hidden, `${name}: the would-be hidden request is the body, framed by its real length`);
    t.equal(tagged[0]?.headers['content-length'], String(hidden.length), `${name}: content-length of the bytes sent`);
    t.equal(tagged[0]?.headers['transfer-encoding'], undefined, `${name}: no client transfer-encoding`);
    await victimSubmit(t, port, node);
  }
  t.ok(proxy, 'proxy up');
});

t.test('finding 2: an upgrade never carries a stale Content-Length', async (t) => {
  const { node, port } = await setup(t);
  const h2c = await rawExchange(port, `GET /v1/e HTTP/1.1\r\nhost: p\r\nx-tag: e\r\nconnection: upgrade\r\nupgrade: h2c\r\ncontent-length: ${hidden.length}\r\n\r\n${hidden}`);
  t.equal(h2c.responses[0]?.status, 400, 'an h2c upgrade that declares a body is refused');
  node.reset();
  const socket = connect({ host: '127.0.0.1', port });
  socket.write(`GET /v1/ws HTTP/1.1\r\nhost: p\r\nx-tag: ws\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\ncontent-length: 5\r\n\r\n`);
  const switched = await readResponses(socket, 1, 5_000);
  t.equal(switched.responses[0]?.status, 101, 'the WebSocket upgrade is relayed');
  const up = node.requests.find((r) => r.upgrade);
  t.equal(up?.headers['content-length'], undefined, 'without the client\'s Content-Length');
  t.equal(up?.headers['upgrade'], 'websocket');
  socket.destroy();
  await victimSubmit(t, port, node);
  const plain = await rawExchange(port, 'GET /v1/f HTTP/1.1\r\nhost: p\r\nx-tag: f\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n');
  t.equal(plain.responses[0]?.status, 200, 'an h2c upgrade without a body is answered as HTTP/1.1');
  t.equal(node.tagged().find((r) => r.url === '/v1/f')?.headers['upgrade'], undefined, 'and the node sees no Upgrade');
});

t.test('finding 3: upgrades are admitted like any request and bounded', async (t) => {
  const { node, port } = await setup(t, `  apiKeys: { keys: [${KEY}] }
  rateLimit: { requestsPerSecond: 0.001, burst: 5 }
  upgrades: { maxPerClient: 2, maxTotal: 100, handshakeTimeoutMs: 500 }`);
  const ws = (key?: string) => `GET /v1/ws HTTP/1.1\r\nhost: p\r\nx-tag: ws\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n${key ? `x-api-key: ${key}\r\n` : ''}content-length: 3\r\n\r\n`;
  const code = (r: { responses: Array<{ body: Buffer }> }) => JSON.parse(r.responses[0]?.body.toString() || '{}').error_code as string | undefined;
  for (let i = 0; i < 3; i++) t.equal((await rawExchange(port, ws())).responses[0]?.status, 401, `no key: 401 (${i})`);
  t.equal(node.requests.filter((r) => r.upgrade).length, 0, 'no keyless upgrade reached the node');
  const open = [connect({ host: '127.0.0.1', port }), connect({ host: '127.0.0.1', port })];
  for (const s of open) s.write(ws(KEY));
  for (const s of open) t.equal((await readResponses(s, 1, 5_000)).responses[0]?.status, 101, 'a keyed upgrade is relayed');
  const third = await rawExchange(port, ws(KEY));
  t.equal(third.responses[0]?.status, 429, 'a third open upgrade for the same client is refused');
  t.equal(code(third), 'too_many_upgrades');
  const seen = node.requests.filter((r) => r.upgrade);
  t.equal(seen.length, 2);
  t.notOk(seen.some((r) => r.headers['x-api-key'] !== undefined), 'the client API key is never forwarded');
  t.notOk(seen.some((r) => r.headers['content-length'] !== undefined), 'nor a Content-Length');
  for (const s of open) s.destroy();
  await waitFor(async () => node.openUpgrades() === 0);
  const again = await rawExchange(port, ws(KEY));
  t.equal(again.responses[0]?.status, 101, 'slots are released when the clients leave');
  const submit = await request(`http://127.0.0.1:${port}/v1/transactions`, { method: 'POST', body: { a: 1 }, headers: { 'x-api-key': KEY, 'x-tag': 'after' } });
  t.equal(submit.status, 202, 'a submit after the upgrades is answered');
  const limited = await rawExchange(port, ws(KEY));
  t.equal(code(limited), 'rate_limited', 'the rate limit applies to upgrades too (burst used up)');
});

t.test('finding 3b: a node that does not answer the handshake is cut at the timeout', async (t) => {
  const { createServer } = await import('node:net');
  const held = new Set<import('node:net').Socket>();
  const silent = createServer((s) => { held.add(s); s.on('error', () => undefined); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { for (const s of held) s.destroy(); silent.close(() => r()); }));
  const silentPort = (silent.address() as { port: number }).port;
  const proxy = await startTestProxy(`server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  upgrades: { handshakeTimeoutMs: 300 }
  shutdown: { drainDelayMs: 0, deadlineMs: 500 }
upstreams:
  aptos: { dialect: aptos-rest, primary: http://127.0.0.1:${silentPort}, timeouts: { headersMs: 300 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`, { waitForHeads: false });
  t.teardown(() => proxy.close());
  const started = Date.now();
  const { responses } = await rawExchange(Number(new URL(proxy.url).port), 'GET /v1/ws HTTP/1.1\r\nhost: p\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n');
  t.equal(responses[0]?.status, 502, 'a 502 once the handshake timeout passes');
  t.ok(Date.now() - started < 3_000, 'within about the timeout');
});

t.test('finding 4: dot segments and encoded slashes cannot escape the route', async (t) => {
  const { node, port } = await setup(t);
  const cases: Array<[string, number]> = [
    ['/v1/../admin/secret', 404],
    ['/v1/%2e%2e/metrics', 404],
    ['/v1/%2E%2E/%2e%2e/etc', 400],
    ['/v1%2f..%2fadmin', 400],
    ['/v1/..%5cadmin', 400],
    ['/../../etc/passwd', 400],
  ];
  for (const [path, status] of cases) {
    const { responses } = await rawExchange(port, `GET ${path} HTTP/1.1\r\nhost: p\r\nx-tag: x\r\n\r\n`);
    t.equal(responses[0]?.status, status, `${path}: ${status}`);
  }
  t.same(node.tagged(), [], 'none of them reached the node');
  const { responses } = await rawExchange(port, 'GET /v1/x/%2e%2e/other/./y HTTP/1.1\r\nhost: p\r\nx-tag: ok\r\n\r\n');
  t.equal(responses[0]?.status, 200);
  t.equal(node.tagged()[0]?.url, '/v1/other/y', 'the node gets the same normalised path the route matched');
});

t.test('finding 5: rate limits key on the rightmost address added by a trusted hop', async (t) => {
  const { node, port } = await setup(t, `  forwardedFor: { trustedHops: 1 }
  rateLimit: { requestsPerSecond: 0.001, burst: 3 }`);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await request(`http://127.0.0.1:${port}/v1/other`, { headers: { 'x-forwarded-for': `10.0.0.${i}, 203.0.113.7`, 'x-tag': `r${i}` } });
    statuses.push(res.status);
  }
  t.same(statuses, [200, 200, 200, 429, 429], 'a spoofed leftmost entry does not give a fresh bucket');
  t.equal(node.tagged()[0]?.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1', 'the node is told the chain from the client the proxy trusted');
  const other = await request(`http://127.0.0.1:${port}/v1/other`, { headers: { 'x-forwarded-for': '198.51.100.1', 'x-tag': 'o' } });
  t.equal(other.status, 200, 'another client behind the trusted hop has its own bucket');
});

t.test('finding 5b: trusted proxy CIDRs', async (t) => {
  const { node, port } = await setup(t, '  forwardedFor: { trustedProxies: [127.0.0.0/8, 10.0.0.0/8] }');
  await request(`http://127.0.0.1:${port}/v1/other`, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.9, 10.1.2.3', 'x-tag': 'c' } });
  t.equal(node.tagged()[0]?.headers['x-forwarded-for'], '198.51.100.9, 10.1.2.3, 127.0.0.1', 'the client is the rightmost untrusted address');
});

t.test('finding 6: maxBodyBytes holds on pass-through', async (t) => {
  const { node, port } = await setup(t);
  const big = 'x'.repeat(3 * 1024 * 1024);
  const declared = await request(`http://127.0.0.1:${port}/v1/transactions`, { method: 'POST', body: big, headers: { 'content-type': 'application/json', 'x-tag': 'big' } });
  t.equal(declared.status, 413, 'a 3 MB submit is refused');
  const chunked = await new Promise<number>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.write('POST /v1/transactions HTTP/1.1\r\nhost: p\r\nx-tag: bigc\r\ntransfer-encoding: chunked\r\n\r\n');
    const piece = `${(256 * 1024).toString(16)}\r\n${'y'.repeat(256 * 1024)}\r\n`;
    let sent = 0;
    const pump = () => { while (sent < 12 && s.write(piece)) sent++; if (sent < 12) s.once('drain', () => { sent++; pump(); }); };
    pump();
    void readResponses(s, 1, 5_000).then((r) => { s.destroy(); resolve(r.responses[0]?.status ?? 0); });
  });
  t.ok(chunked === 413 || chunked === 0, `a chunked body over the limit is cut (${chunked})`);
  t.notOk(node.tagged().some((r) => r.body.length > 1024 * 1024), 'the node never received more than the limit');
  t.notOk(node.tagged().some((r) => r.headers['x-tag'] === 'big'), 'the declared-length one never reached the node at all');
});

t.test('finding 7: client forwarding claims are not forwarded', async (t) => {
  const { node, port } = await setup(t);
  await request(`http://127.0.0.1:${port}/v1/other`, { headers: { 'x-tag': 'f', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6', 'x-forwarded-port': '1', 'x-original-url': '/admin', 'x-forwarded-host': 'evil', 'true-client-ip': '6.6.6.6' } });
  const seen = node.tagged()[0];
  for (const name of ['forwarded', 'x-real-ip', 'x-forwarded-port', 'x-original-url', 'true-client-ip']) t.equal(seen?.headers[name], undefined, `${name} dropped`);
  t.equal(seen?.headers['x-forwarded-for'], '127.0.0.1');
  t.equal(seen?.headers['x-forwarded-host'], `127.0.0.1:${port}`, 'X-Forwarded-Host is the proxy\'s own');
});

t.test('finding 8: the admin port refuses browsers without the token', async (t) => {
  const { proxy } = await setup(t);
  const purge = (headers: Record<string, string>) => request(`${proxy.adminUrl}/admin/purge?all=true`, { method: 'POST', headers });
  t.equal((await purge({})).status, 200, 'curl from loopback still works');
  t.equal((await purge({ origin: 'http://evil.example' })).status, 403, 'a cross-site browser POST is refused');
  t.equal((await purge({ host: 'rebound.evil.example:9090' })).status, 403, 'a DNS-rebound Host is refused');
  t.equal((await purge({ 'content-type': 'text/plain' })).status, 403, 'a simple content type is refused');
  t.equal((await purge({ 'content-type': 'application/x-www-form-urlencoded' })).status, 403);
  t.equal((await purge({ 'content-type': 'application/json' })).status, 200, 'a non-simple content type is accepted');
  t.equal((await purge({ origin: 'http://evil.example', authorization: `Bearer ${TOKEN}` })).status, 200, 'the token is accepted from anywhere');
  t.equal((await request(`${proxy.adminUrl}/admin/status`, { headers: { host: 'rebound.evil.example' } })).status, 403, 'reads by a rebound Host too');
});

t.test('finding 9: upstream URL credentials and query are sent, never logged', async (t) => {
  const { node, port } = await setup(t, '', '', (n) => `http://user:pa%40ss@127.0.0.1:${n.port}/?apikey=SECRET`);
  await request(`http://127.0.0.1:${port}/v1/other?x=1&apikey=mine`, { headers: { 'x-tag': 'cred' } });
  const seen = node.tagged()[0];
  t.equal(seen?.headers['authorization'], `Basic ${Buffer.from('user:pa@ss').toString('base64')}`);
  t.equal(seen?.url, '/v1/other?apikey=SECRET&x=1', 'the node URL query first, the client cannot replace it');
  await waitFor(() => node.requests.some((r) => r.url === '/v1?apikey=SECRET' && r.headers['authorization'] !== undefined), 5_000);
  t.pass('head polls carry them too');
});

t.test('item 10: JSON-RPC method deny list answers -32601 in place', async (t) => {
  const node = await startRecordingNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  evm:
    dialect: evm-jsonrpc
    primary: ${node.url}
    methods: { deny: [admin_, debug_] }
routes:
  - match: { pathPrefix: / }
    upstream: evm
`);
  t.teardown(() => proxy.close());
  node.reset();
  const res = await request(proxy.url, { method: 'POST', body: [
    { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] },
    { jsonrpc: '2.0', id: 2, method: 'admin_peers', params: [] },
    { jsonrpc: '2.0', id: 3, method: 'debug_traceTransaction', params: ['0x1'] },
  ] });
  const out = res.json<Array<{ id: number; result?: string; error?: { code: number } }>>();
  t.same(out.map((c) => c.id), [1, 2, 3], 'in the client\'s order');
  t.equal(out[0]?.result, '0x1');
  t.equal(out[1]?.error?.code, -32601);
  t.equal(out[2]?.error?.code, -32601);
  t.notOk(node.requests.some((r) => r.body.includes('admin_') || r.body.includes('debug_')), 'denied calls never reach the node');
});

t.test('item 10: strong reads limited to listed keys', async (t) => {
  const primary = await startRecordingNode();
  const replica = await startRecordingNode();
  t.teardown(() => primary.close());
  t.teardown(() => replica.close());
  const other = 'o'.repeat(20);
  const proxy = await startTestProxy(`server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  apiKeys: { keys: [${KEY}, ${other}] }
  strongReads: { allow: keys, keys: [${KEY}] }
  shutdown: { drainDelayMs: 0, deadlineMs: 2000 }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${primary.url}, replicas: [${replica.url}] }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  await request(`${proxy.url}/v1/other`, { headers: { 'x-api-key': other, 'x-read-consistency': 'strong', 'x-tag': 'no' } });
  await request(`${proxy.url}/v1/other`, { headers: { 'x-api-key': KEY, 'x-read-consistency': 'strong', 'x-tag': 'yes' } });
  t.equal(replica.tagged().find((r) => r.headers['x-tag'] === 'no')?.url, '/v1/other', 'an unlisted key reads from a replica');
  t.equal(primary.tagged().find((r) => r.headers['x-tag'] === 'yes')?.url, '/v1/other', 'a listed key gets the primary');
  t.notOk([...primary.tagged(), ...replica.tagged()].some((r) => r.headers['x-read-consistency'] !== undefined || r.headers['x-api-key'] !== undefined), 'proxy-only headers end at the proxy');
});

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met in time');
}
