// Finishing a request never throws out of the request's own events. A buffered request ends in its
// body's 'end' event (pipeline/read-body.ts), where an exception from the end stage (its log line)
// or from writing the error answer would be uncaught and end the process with every other client's
// request. Here both are forced to throw: the request is logged with its id and its socket is
// destroyed, and the proxy goes on answering. (tap fails a test on an uncaught exception.)
import http from 'node:http';
import t from 'tap';
import type { Logger } from '../../src/log.js';
import { APTOS_ACCOUNTS, APTOS_COIN, BALANCE_VIEW_FUNCTION, startAptosNode } from '../support/aptos-node.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';
import type { TapTest } from '../support/tap-test.js';

interface Logged {
  obj: { reqId?: string; err?: unknown };
  msg: string;
}

const VIEW = JSON.stringify({ function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [APTOS_ACCOUNTS.bob] });

async function setup(t: TapTest, route = '') {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
log: { requests: info }
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
${route}`);
  t.teardown(() => proxy.close());
  // The request line is logged at info; the harness's logger is silent until told otherwise.
  const log = proxy.state.log as Logger & Record<string, unknown>;
  log.level = 'info';
  const logged: Logged[] = [];
  log.error = ((obj: Logged['obj'], msg: string) => void logged.push({ obj, msg })) as Logger['error'];
  log.info = (() => undefined) as Logger['info'];
  return { proxy, log, logged };
}

interface Outcome {
  status?: number;
  xCache?: string;
  failed?: string;
  /** The client's socket closed (by the proxy: the agent keeps it alive otherwise). */
  closed: Promise<void>;
}

/** One POST on a keep-alive connection of its own. */
function post(proxy: TestProxy, path: string, body: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve) => {
    let closed!: Promise<void>;
    const req = http.request(`${proxy.url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, xCache: res.headers['x-cache'] as string | undefined, closed }));
      res.on('error', (err) => resolve({ failed: err.message, closed }));
    });
    req.on('socket', (socket) => {
      closed = new Promise((done) => socket.once('close', () => done()));
    });
    req.on('error', (err) => resolve({ failed: err.message, closed }));
    req.end(body);
  }).finally(() => setTimeout(() => agent.destroy(), 2_000).unref()) as Promise<Outcome>;
}

t.test('a log line that throws from the body\'s end event: logged with the request id, that socket destroyed, the proxy goes on', async (t) => {
  const { proxy, log, logged } = await setup(t);
  const path = '/v1/view?ledger_version=5';
  t.equal((await post(proxy, path, VIEW)).xCache, 'MISS');
  t.equal((await post(proxy, path, VIEW)).xCache, 'HIT', 'full-path hit: the shortcut remembers it');
  log.info = (() => {
    throw new Error('log sink broke');
  }) as Logger['info'];
  // The shortcut hit is answered and ended inside the body's 'end' event.
  const broken = await post(proxy, path, VIEW, { 'x-request-id': 'broken-log-1' });
  await broken.closed;
  t.pass('the proxy destroyed the socket');
  t.same(logged.map((l) => [l.obj.reqId, l.msg, (l.obj.err as Error).message]), [['broken-log-1', 'request could not be finished', 'log sink broke']]);
  log.info = (() => undefined) as Logger['info'];
  const after = await post(proxy, path, VIEW);
  t.equal(after.status, 200, 'the next request is answered');
  t.equal(after.xCache, 'HIT');
});

/** The error answer of requests carrying the marker throws (as a broken response would). */
function breakErrorAnswers(proxy: TestProxy): void {
  proxy.running.traffic.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.headers['x-break-answer'] === undefined) return;
    res.writeHead = () => {
      throw new Error('writeHead broke');
    };
  });
}

t.test('an error answer that throws from the body\'s end event: logged with the request id, that socket destroyed', async (t) => {
  const { proxy, logged } = await setup(t, '    monotonicReads: true\n');
  breakErrorAnswers(proxy);
  // A malformed X-Min-Ledger-Version is refused once the body is in, synchronously, inside the 'end' event.
  const bad = { 'x-min-ledger-version': 'soon' };
  const broken = await post(proxy, '/v1/view?ledger_version=5', VIEW, { ...bad, 'x-break-answer': '1', 'x-request-id': 'broken-answer-1' });
  t.ok(broken.failed !== undefined, `the client sees a failed exchange (${broken.failed})`);
  await broken.closed;
  t.same(logged.map((l) => [l.obj.reqId, l.msg, (l.obj.err as Error).message]), [['broken-answer-1', 'error answer could not be written', 'writeHead broke']]);
  const after = await post(proxy, '/v1/view?ledger_version=5', VIEW, bad);
  t.equal(after.status, 400, 'the next bad request gets its error answer');
});

t.test('an answer and its error answer that throw in a promise\'s handler (after the node): logged, that socket destroyed', async (t) => {
  const { proxy, logged } = await setup(t);
  breakErrorAnswers(proxy);
  // The node's answer to this body is written after the fetch, from a promise: its write throws,
  // and so does the error answer that follows.
  const broken = await post(proxy, '/v1/view?ledger_version=5', VIEW, { 'x-break-answer': '1', 'x-request-id': 'broken-answer-2' });
  t.ok(broken.failed !== undefined, `the client sees a failed exchange (${broken.failed})`);
  await broken.closed;
  t.same(logged.map((l) => [l.obj.reqId, l.msg]), [['broken-answer-2', 'error answer could not be written'], ['broken-answer-2', 'request failed']]);
  t.equal((logged[0]?.obj.err as Error).message, 'writeHead broke');
  const after = await post(proxy, '/v1/view?ledger_version=5', VIEW);
  t.equal(after.status, 200, 'the next request is answered');
});
