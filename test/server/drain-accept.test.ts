// Connections made during the drain delay are served even when the proxy's loop is busy as the
// delay ends. The kernel completes a connection on its own and queues it until the process
// accepts it; closing the listener resets whatever is still queued (and node:http closes an
// accepted connection whose request it has not read as idle). The loop is made busy here by the
// test itself (the proxy runs in this process): connections are made, then the loop is blocked
// past the end of the drain delay, so the delay's timer fires before any of them was accepted.
import { connect } from 'node:net';
import t from 'tap';
import { readResponses } from '../support/raw-http.js';
import { startTestProxy } from '../support/proxy-harness.js';

const DRAIN_DELAY_MS = 50;
const CONNECTIONS = 10;

function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: nothing else runs in this process meanwhile, the proxy included
  }
}

t.test('connections queued while the loop is busy at the end of the drain delay get an answer', async (t) => {
  const proxy = await startTestProxy(`
server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  shutdown: { drainDelayMs: ${DRAIN_DELAY_MS}, deadlineMs: 5000 }
upstreams:
  aptos: { dialect: aptos-rest, primary: http://127.0.0.1:9 }
routes:
  - { match: { pathPrefix: /v1 }, upstream: aptos }
`, { waitForHeads: false });
  const port = proxy.running.trafficPort;
  const drained = proxy.running.shutdown();
  const sockets = Array.from({ length: CONNECTIONS }, () => {
    const s = connect({ host: '127.0.0.1', port });
    s.write('GET /not-routed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    return s;
  });
  // The connect calls go out on the next tick; on loopback the kernel completes each at once.
  await new Promise((resolve) => setImmediate(resolve));
  blockLoop(DRAIN_DELAY_MS * 3);
  const answers = await Promise.all(sockets.map((s) => readResponses(s, 1, 5_000).finally(() => s.destroy())));
  await drained;
  const statuses = answers.map((a) => a.responses[0]?.status ?? 'reset');
  t.same(statuses, statuses.map(() => 404), `every connection made during the delay was answered: ${statuses.join(' ')}`);
});
