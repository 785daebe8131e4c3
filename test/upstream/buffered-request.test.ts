// requestBuffered against a real HTTP server: the answer whole, the limit, and cancellation
// before the exchange, while it waits for headers, and after it is over.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { errors as undiciErrors, Pool } from 'undici';
import { requestBuffered, type BufferedRequest } from '../../src/upstream/buffered-request.js';
import { Cancellation } from '../../src/upstream/cancel.js';
import { UpstreamResponseTooLargeError } from '../../src/errors.js';

async function server(t: Test, handler: http.RequestListener): Promise<Pool> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const pool = new Pool(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
  t.teardown(async () => {
    await pool.destroy();
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });
  return pool;
}

const get = (cancel?: Cancellation): BufferedRequest => ({ path: '/x', method: 'GET', headers: {}, body: undefined, cancel });

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

t.test('the answer whole, with its headers and when they came', async (t) => {
  const pool = await server(t, (_req, res) => {
    res.writeHead(200, { 'x-a': '1' });
    res.write('hello ');
    setTimeout(() => res.end('world'), 5);
  });
  const before = performance.now();
  let told = 0;
  const cancel = new Cancellation();
  const a = await requestBuffered(pool, get(cancel), 1_000, () => told++);
  t.equal(a.statusCode, 200);
  t.equal(a.headers['x-a'], '1');
  t.equal(a.body.toString(), 'hello world');
  t.equal(told, 1);
  t.ok(a.headersAt >= before);
  cancel.abort(new Error('after the fact'));
  t.pass('a cancellation after the exchange is harmless (the listener left)');
});

t.test('a body over the limit is refused while it arrives', async (t) => {
  const pool = await server(t, (_req, res) => res.end('x'.repeat(5_000)));
  const err = await failure(requestBuffered(pool, get(), 1_000));
  t.ok(err instanceof UpstreamResponseTooLargeError);
});

t.test('already cancelled: refused with its reason, nothing sent', async (t) => {
  let seen = 0;
  const pool = await server(t, (_req, res) => {
    seen++;
    res.end('{}');
  });
  const cancel = new Cancellation();
  const reason = new Error('before');
  cancel.abort(reason);
  t.equal(await failure(requestBuffered(pool, get(cancel), 1_000)), reason);
  t.equal(seen, 0);
});

t.test('cancelled while waiting for headers: fails with the reason, the node sees the connection go', async (t) => {
  let closed!: () => void;
  const gone = new Promise<void>((r) => (closed = r));
  const pool = await server(t, (req) => req.socket.on('close', closed));
  const cancel = new Cancellation();
  const p = requestBuffered(pool, get(cancel), 1_000);
  setTimeout(() => cancel.abort(new Error('deadline')), 30);
  const err = await failure(p);
  t.equal((err as Error).message, 'deadline');
  await gone;
  t.pass('the upstream connection was closed');
});

t.test('cancelled without a reason: undici\'s RequestAbortedError', async (t) => {
  const pool = await server(t, () => undefined);
  const cancel = new Cancellation();
  const p = requestBuffered(pool, get(cancel), 1_000);
  setTimeout(() => cancel.abort(undefined), 20);
  t.ok((await failure(p)) instanceof undiciErrors.RequestAbortedError);
});
