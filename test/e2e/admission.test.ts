// Who may use the proxy and how fast: API keys and per-client rate limits, answered in the
// dialect's own shape.
import t from 'tap';
import { startAptosNode } from '../support/aptos-node.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

const KEY = 'k-0123456789abcdef';

t.test('API keys: required, checked, not forwarded', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0, apiKeys: { keys: ["${KEY}"] }, shutdown: { drainDelayMs: 0, deadlineMs: 2000 } }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url} }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  const none = await request(`${proxy.url}/v1`);
  t.equal(none.status, 401);
  t.match(none.json(), { error_code: 'unauthorized', message: /x-api-key/ });
  t.equal((await request(`${proxy.url}/v1`, { headers: { 'x-api-key': 'wrong-key-wrong-key' } })).status, 401);
  node.resetCalls();
  const ok = await request(`${proxy.url}/v1/accounts/0x1`, { headers: { 'x-api-key': KEY } });
  t.equal(ok.status, 200);
  t.equal(node.requests.at(-1)?.headers['x-api-key'], undefined, 'the key stays at the proxy');
});

t.test('rate limit: a JSON-RPC client over its budget gets -32005 with Retry-After; batches count each call', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0, rateLimit: { requestsPerSecond: 1, burst: 5 }, shutdown: { drainDelayMs: 0, deadlineMs: 2000 } }
upstreams:
  evm: { dialect: evm-jsonrpc, primary: ${node.url} }
routes:
  - match: { pathPrefix: / }
    upstream: evm
`);
  t.teardown(() => proxy.close());
  const call = { jsonrpc: '2.0', id: 9, method: 'eth_chainId', params: [] };
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await request(proxy.url, { method: 'POST', body: call })).status);
  t.same(statuses, [200, 200, 200, 200, 200], 'the burst is allowed');
  const limited = await request(proxy.url, { method: 'POST', body: call });
  t.equal(limited.status, 429);
  t.match(limited.json(), { jsonrpc: '2.0', error: { code: -32005 } });
  t.ok(Number(limited.header('retry-after')) >= 1);
  await new Promise((r) => setTimeout(r, 2100));
  const batch = Array.from({ length: 3 }, (_, i) => ({ ...call, id: i }));
  t.equal((await request(proxy.url, { method: 'POST', body: batch })).status, 429, 'a batch of 3 needs 3 tokens');
  t.equal((await request(proxy.url, { method: 'POST', body: call })).status, 200, 'a single call fits');
});
