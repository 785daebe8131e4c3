import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { BodyTooLargeError, InvalidRequestError, RequestTimeoutError } from '../../src/errors.js';
import { readBody } from '../../src/pipeline/read-body.js';
import { deadlineStats } from '../../src/upstream/deadlines.js';

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
}

/** A real HTTP server that hands each request to the test. */
async function server(t: Test) {
  const waiting: Array<(x: Exchange) => void> = [];
  const queued: Exchange[] = [];
  const srv = http.createServer((req, res) => {
    const x = { req, res };
    const w = waiting.shift();
    if (w) w(x);
    else queued.push(x);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    srv.closeAllConnections();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  const port = (srv.address() as AddressInfo).port;
  const next = (): Promise<Exchange> => {
    const q = queued.shift();
    return q ? Promise.resolve(q) : new Promise((resolve) => waiting.push(resolve));
  };
  /** Opens a request; the test decides what to write and when to end. */
  const open = (headers: Record<string, string | number> = {}) => {
    const client = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false });
    client.on('error', () => undefined); // the server may cut us off; that is the point of some tests
    client.flushHeaders();
    return client;
  };
  return { next, open };
}

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const listenersLeft = (req: IncomingMessage) =>
  ['data', 'end', 'error', 'aborted'].reduce((n, e) => n + req.listenerCount(e), 0);

t.test('a body within the limit is read whole', async (t) => {
  const { next, open } = await server(t);
  const client = open({ 'content-length': 11 });
  client.write('hello ');
  client.end('world');
  const { req, res } = await next();
  const body = await readBody(req, 11, 5_000);
  t.equal(body.toString(), 'hello world', 'exactly at the limit is fine');
  // The listeners stay attached, inert: a late event neither changes the body nor throws (a
  // late 'error' with no listener left would be an unhandled error event).
  t.equal(listenersLeft(req), 3, 'its listeners stay, inert');
  t.doesNotThrow(() => req.emit('data', Buffer.from('late')), 'a late chunk is ignored');
  t.doesNotThrow(() => req.emit('error', new Error('late')), 'a late error is absorbed');
  t.equal(body.toString(), 'hello world', 'the body read is unchanged');
  res.end();
});

t.test('a chunked body in many pieces within the limit is concatenated', async (t) => {
  const { next, open } = await server(t);
  const client = open({ 'transfer-encoding': 'chunked' });
  const { req, res } = await next();
  const reading = readBody(req, 1_000, 5_000);
  const parts: string[] = [];
  for (let i = 0; i < 10; i++) {
    const p = `part${i};`;
    parts.push(p);
    client.write(p);
    await new Promise((r) => setTimeout(r, 2));
  }
  client.end();
  t.equal((await reading).toString(), parts.join(''));
  res.end();
});

t.test('an empty body is an empty buffer', async (t) => {
  const { next, open } = await server(t);
  open({ 'content-length': 0 }).end();
  const { req, res } = await next();
  const body = await readBody(req, 10, 5_000);
  t.equal(body.length, 0);
  res.end();
});

t.test('a declared content-length over the limit is refused before a byte is read', async (t) => {
  const { next, open } = await server(t);
  // Headers only: the body never comes. A reader that waited for it would hang until the timeout.
  const client = open({ 'content-length': 1_000 });
  t.teardown(() => client.destroy());
  const { req, res } = await next();
  const err = await rejectionOf(readBody(req, 999, 60_000));
  t.ok(err instanceof BodyTooLargeError, 'BodyTooLargeError');
  t.equal((err as BodyTooLargeError).status, 413);
  t.match((err as Error).message, /1000/);
  t.equal(req.listenerCount('data'), 0, 'no data listener was attached');
  t.equal(req.readableFlowing, null, 'the body stream was never started');
  res.end();
});

t.test('a streamed body that grows past the limit is refused as soon as it does', async (t) => {
  const { next, open } = await server(t);
  const client = open({ 'transfer-encoding': 'chunked' });
  t.teardown(() => client.destroy());
  const { req, res } = await next();
  const reading = readBody(req, 100, 60_000);
  client.write(Buffer.alloc(60, 'a'));
  client.write(Buffer.alloc(60, 'b'));
  // The client has not ended: the refusal must not wait for the end of the body.
  const err = await rejectionOf(reading);
  t.ok(err instanceof BodyTooLargeError, 'BodyTooLargeError');
  t.equal(listenersLeft(req), 0, 'listeners removed');
  t.equal(req.isPaused(), true, 'the request stream is paused, no more bytes are pulled');
  res.end();
});

t.test('a client that goes away mid-body fails the read with InvalidRequestError', async (t) => {
  const { next, open } = await server(t);
  const client = open({ 'content-length': 1_000 });
  const { req, res } = await next();
  const reading = readBody(req, 10_000, 60_000);
  client.write(Buffer.alloc(10, 'x'));
  await new Promise((r) => setTimeout(r, 20));
  client.destroy();
  const err = await rejectionOf(reading);
  t.ok(err instanceof InvalidRequestError, `InvalidRequestError (got ${String(err)})`);
  t.equal((err as InvalidRequestError).status, 400);
  t.equal((err as Error).message, 'client aborted the request', 'named as the client going away');
  t.equal(listenersLeft(req), 0);
  res.destroy();
});

t.test('a body that does not arrive in time fails with RequestTimeoutError', async (t) => {
  const { next, open } = await server(t);
  const client = open({ 'content-length': 100 });
  t.teardown(() => client.destroy());
  client.write('only a part');
  const { req, res } = await next();
  const err = await rejectionOf(readBody(req, 1_000, 50));
  t.ok(err instanceof RequestTimeoutError, 'RequestTimeoutError');
  t.equal((err as RequestTimeoutError).status, 408);
  t.equal(listenersLeft(req), 0);
  res.end();
});

t.test('a successful read leaves no timer behind', async (t) => {
  const { next, open } = await server(t);
  const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  open({ 'content-length': 2 }).end('ok');
  const { req, res } = await next();
  const before = activeTimers();
  await readBody(req, 10, 60_000);
  t.equal(activeTimers(), before, 'the 60 s timer was cleared');
  res.end();
});

t.test('a read in progress is one entry of the shared deadline heap (upstream/deadlines.ts), none once it ends', async (t) => {
  const { next, open } = await server(t);
  const client = open({ 'content-length': 8 });
  client.write('half');
  const { req, res } = await next();
  const before = deadlineStats().pending;
  const reading = readBody(req, 100, 60_000);
  t.equal(deadlineStats().pending, before + 1, 'the read waits on the shared timer');
  client.end('half');
  t.equal((await reading).toString(), 'halfhalf');
  t.equal(deadlineStats().pending, before, 'and leaves it when the body is in');
  res.end();
});

t.test('a read whose time has already run out fails at once with RequestTimeoutError', async (t) => {
  const { next, open } = await server(t);
  const client = open({ 'content-length': 100 });
  t.teardown(() => client.destroy());
  client.write('some');
  const { req, res } = await next();
  const before = deadlineStats().pending;
  const err = await rejectionOf(readBody(req, 1_000, -1));
  t.ok(err instanceof RequestTimeoutError, `RequestTimeoutError (got ${String(err)})`);
  t.equal(listenersLeft(req), 0);
  t.equal(deadlineStats().pending, before, 'nothing left in the heap');
  res.end();
});

t.test('many late bodies share one timer and each fails with RequestTimeoutError', async (t) => {
  const { next, open } = await server(t);
  const clients = Array.from({ length: 20 }, () => open({ 'content-length': 100 }));
  t.teardown(() => clients.forEach((c) => c.destroy()));
  for (const c of clients) c.write('part');
  const exchanges: Exchange[] = [];
  for (let i = 0; i < clients.length; i++) exchanges.push(await next());
  const armed = deadlineStats().timersArmed;
  // Later deadlines than the earliest: only the first can re-arm the shared timer.
  const reads = exchanges.map((x, i) => rejectionOf(readBody(x.req, 1_000, 30 + i)));
  t.ok(deadlineStats().timersArmed - armed <= 1, '20 reads armed at most one timer');
  const errs = await Promise.all(reads);
  t.ok(errs.every((e) => e instanceof RequestTimeoutError), 'every read timed out');
  t.ok(exchanges.every((x) => listenersLeft(x.req) === 0));
  for (const x of exchanges) x.res.end();
});
