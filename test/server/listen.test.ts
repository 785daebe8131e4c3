import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { listen, parseHostPort } from '../../src/server/listen.js';
import { request } from '../support/http-client.js';

t.test('parseHostPort', async (t) => {
  const rows: Array<[string, { host: string; port: number }]> = [
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:9090', { host: '127.0.0.1', port: 9090 }],
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['[::1]:9090', { host: '::1', port: 9090 }],
    ['[::]:80', { host: '::', port: 80 }],
    ['[fe80::1:2]:65535', { host: 'fe80::1:2', port: 65535 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['proxy.internal:443', { host: 'proxy.internal', port: 443 }],
  ];
  for (const [input, expected] of rows) t.same(parseHostPort(input), expected, input);
});

function server(t: Test): http.Server {
  const s = http.createServer((_req, res) => res.end('up'));
  t.teardown(() => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())));
  return s;
}

t.test('listen on port 0 reports the port the kernel chose, and serves', async (t) => {
  const s = server(t);
  const bound = await listen(s, '127.0.0.1:0');
  t.equal(bound.host, '127.0.0.1');
  t.ok(bound.port > 0, 'a real port');
  t.equal(bound.port, (s.address() as AddressInfo).port);
  const res = await request(`http://127.0.0.1:${bound.port}/`);
  t.equal(res.text(), 'up');
});

t.test('an empty host listens on every IPv4 interface', async (t) => {
  const s = server(t);
  const bound = await listen(s, ':0');
  t.equal(bound.host, '0.0.0.0');
  t.equal((s.address() as AddressInfo).address, '0.0.0.0');
  t.equal((await request(`http://127.0.0.1:${bound.port}/`)).text(), 'up');
});

/** Can this machine listen on ::1? */
const ipv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = http.createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

t.test('a bracketed IPv6 address', { skip: ipv6Loopback ? false : 'no IPv6 loopback here' }, async (t) => {
  const s = server(t);
  const bound = await listen(s, '[::1]:0');
  t.equal(bound.host, '::1');
  t.equal((s.address() as AddressInfo).address, '::1');
  t.equal((await request(`http://[::1]:${bound.port}/`)).text(), 'up');
});

t.test('a port in use rejects (EADDRINUSE) and leaves no error listener behind', async (t) => {
  const first = server(t);
  const { port } = await listen(first, '127.0.0.1:0');
  const second = server(t);
  const before = second.listenerCount('error');
  const err = await listen(second, `127.0.0.1:${port}`).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  t.equal(err?.code, 'EADDRINUSE');
  t.equal(second.listening, false);
  t.equal(second.listenerCount('error'), before, 'the once-listener fired and is gone');
});

t.test('a successful listen removes its error listener', async (t) => {
  const s = server(t);
  const before = s.listenerCount('error');
  await listen(s, '127.0.0.1:0');
  t.equal(s.listenerCount('error'), before);
});
