// A killed node must never make /readyz say 200: its breaker goes half-open once per openMs (one
// trial allowed), and half-open is "try once", not "healthy".
import t from 'tap';
import { request } from '../support/http-client.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { waitUntil } from '../support/redis-server.js';

const OPEN_MS = 200;
/** Samples taken at the least, however long they take. */
const MIN_SAMPLES = 20;

t.test('the only node killed: /readyz sampled every 50 ms over several openMs periods is never 200', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm' });
  const proxy = await startTestProxy(`
upstreams:
  only: { dialect: evm-jsonrpc, primary: ${node.url}, health: { openMs: ${OPEN_MS}, probeIntervalMs: 50, ejectAfterFailures: 1 }, head: { pollIntervalMs: 50 } }
routes:
  - match: { pathPrefix: / }
    upstream: only
`);
  t.teardown(() => proxy.close());
  t.equal((await request(`${proxy.adminUrl}/readyz`)).status, 200, 'ready while the node answers');
  await node.close();
  await waitUntil(async () => (await request(`${proxy.adminUrl}/readyz`)).status === 503, 5000, 'not ready once the node is dead');

  const statuses: number[] = [];
  const healthy: boolean[] = [];
  const started = Date.now();
  let halfOpenSeen = false;
  // A count and a span both: on a loaded machine each round of two admin requests and a 50 ms
  // sleep takes far longer than 50 ms, so a fixed window alone held fewer samples than asserted.
  while (statuses.length < MIN_SAMPLES || Date.now() - started < OPEN_MS * 6) {
    statuses.push((await request(`${proxy.adminUrl}/readyz`)).status);
    const status = (await request(`${proxy.adminUrl}/admin/status`)).json<{ groups: Array<{ nodes: Array<{ healthy: boolean; breaker: string }> }> }>();
    const n = status.groups[0]?.nodes[0];
    healthy.push(n?.healthy === true);
    if (n?.breaker === 'half-open') halfOpenSeen = true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.ok(statuses.length >= MIN_SAMPLES, `${statuses.length} samples over ${Date.now() - started} ms (${OPEN_MS} ms openMs)`);
  t.same([...new Set(statuses)], [503], 'never 200 with no live node');
  t.same([...new Set(healthy)], [false], '/admin/status never says healthy');
  t.comment(`half-open observed in /admin/status: ${halfOpenSeen}`);
});
