// Bad input never crashes the proxy and never loses a request: every case gets an error in the
// dialect's own shape, and the proxy keeps serving afterwards.
import { connect } from 'node:net';
import t from 'tap';
import type { TapTest } from '../support/tap-test.js';
import { startAptosNode, APTOS_ACCOUNTS, BALANCE_VIEW_FUNCTION, APTOS_COIN } from '../support/aptos-node.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

const viewBody = { function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [APTOS_ACCOUNTS.alice] };
const aptosShape = { message: String, error_code: String, vm_error_code: null };

async function aptosProxy(t: TapTest) {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0, maxBodyBytes: 4096, requestTimeoutMs: 3000, shutdown: { drainDelayMs: 0, deadlineMs: 1000 } }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, timeouts: { headersMs: 300, bodyMs: 300 }, retry: { attempts: 0 }, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  return { node, proxy };
}

t.test('aptos: client errors in the Aptos shape', async (t) => {
  const { node, proxy } = await aptosProxy(t);
  const big = await request(`${proxy.url}/v1/view`, { method: 'POST', body: Buffer.alloc(10_000, 120), headers: { 'content-type': 'application/json' } });
  t.equal(big.status, 413);
  t.match(big.json(), { ...aptosShape, error_code: 'body_too_large' });
  // A version the proxy cannot read is the node's to judge: its own 400, passed on.
  const badVersion = await request(`${proxy.url}/v1/view?ledger_version=-1`, { method: 'POST', body: viewBody });
  const direct = await request(`${node.url}/v1/view?ledger_version=-1`, { method: 'POST', body: viewBody });
  t.equal(badVersion.status, 400);
  t.same(badVersion.json(), direct.json(), 'the node\'s own answer');
  const noRoute = await request(`${proxy.url}/nope`);
  t.equal(noRoute.status, 404);
  t.match(noRoute.json(), { ...aptosShape, error_code: 'no_route' });
});

t.test('aptos: upstream failures are 502/504 in the Aptos shape', async (t) => {
  const { node, proxy } = await aptosProxy(t);
  node.setFault({ kind: 'hang' });
  const hung = await request(`${proxy.url}/v1/view?ledger_version=10`, { method: 'POST', body: viewBody });
  t.equal(hung.status, 504);
  t.match(hung.json(), { ...aptosShape, error_code: 'upstream_timeout' });
  node.setFault({ kind: 'garbage' });
  const garbage = await request(`${proxy.url}/v1/view?ledger_version=11`, { method: 'POST', body: viewBody });
  t.equal(garbage.status, 502, 'a JSON 200 that is not JSON is a failing node, not an answer');
  t.match(garbage.json(), { ...aptosShape, error_code: 'upstream_bad_response' });
  node.setFault({ kind: 'none' });
  await node.kill();
  const dead = await request(`${proxy.url}/v1/view?ledger_version=12`, { method: 'POST', body: viewBody });
  t.equal(dead.status, 502);
  t.match(dead.json(), { ...aptosShape, error_code: 'upstream_connect_failed' });
});

t.test('json-rpc: upstream failures are JSON-RPC errors with the client id', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  evm: { dialect: evm-jsonrpc, primary: ${node.url}, timeouts: { headersMs: 300, bodyMs: 300 }, retry: { attempts: 0 }, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: / }
    upstream: evm
`);
  t.teardown(() => proxy.close());
  const call = { jsonrpc: '2.0', id: 'abc', method: 'eth_getBalance', params: ['0x00000000000000000000000000000000000000bb', '0x1'] };
  node.setFault({ kind: 'garbage' });
  const garbage = await request(proxy.url, { method: 'POST', body: call });
  t.equal(garbage.status, 502);
  t.match(garbage.json(), { jsonrpc: '2.0', id: 'abc', error: { code: -32603 } });
  node.setFault({ kind: 'status', status: 503 });
  const unavailable = await request(proxy.url, { method: 'POST', body: [call] });
  t.equal(unavailable.status, 200, 'a batch is answered 200 with per-call errors');
  t.match(unavailable.json(), [{ id: 'abc', error: { code: -32603 } }]);
  node.setFault({ kind: 'hang' });
  const hung = await request(proxy.url, { method: 'POST', body: call });
  t.equal(hung.status, 504);
  t.match(hung.json(), { id: 'abc', error: { code: -32603 } });
  node.setFault({ kind: 'none' });
  const ok = await request(proxy.url, { method: 'POST', body: call });
  t.match(ok.json(), { id: 'abc', result: /^0x/ }, 'serving again once the node is back');
});

t.test('malformed HTTP, huge headers and half-sent requests do not crash the proxy', async (t) => {
  const { proxy } = await aptosProxy(t);
  const port = Number(new URL(proxy.url).port);
  const raw = (text: string) => new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (d) => { out += d.toString(); }).on('close', () => resolve(out)).on('error', () => resolve(out));
    setTimeout(() => socket.destroy(), 1500);
  });
  t.match(await raw('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
  t.match(await raw(`GET /v1 HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(40_000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
  t.match(await raw('GET /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), /^HTTP\/1\.1 400/, 'smuggling-style framing refused');
  await raw('POST /v1/view HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"fun');
  const after = await request(`${proxy.url}/v1/view?ledger_version=20`, { method: 'POST', body: viewBody });
  t.equal(after.status, 200, 'still serving');
});
