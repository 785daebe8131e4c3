// Admission on its own: who the client is, worked out only when a rate limit needs a bucket.
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { RateLimitedError, UnauthorizedError } from '../../src/errors.js';
import { Admission } from '../../src/server/admission.js';

const KEY = 'k'.repeat(20);

function serverConfig(extra: string) {
  return parseConfigText(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0${extra} }
upstreams:
  a: { dialect: aptos-rest, primary: http://127.0.0.1:9/ }
routes:
  - match: { pathPrefix: / }
    upstream: a
`, 'test').server;
}

/** A request whose peer address counts its reads (the client key is built from it). */
function request(headers: Record<string, string> = {}, ip = '10.0.0.1') {
  let reads = 0;
  const socket = { get remoteAddress() { reads++; return ip; } };
  const req = { headers: { ...headers }, socket } as unknown as IncomingMessage;
  return { req, reads: () => reads };
}

t.test('without a rate limit no client key is built', async (t) => {
  const a = new Admission(serverConfig(''));
  const r = request({ 'x-forwarded-for': '1.2.3.4' });
  for (let i = 0; i < 1_000; i++) a.admit(r.req);
  a.charge(r.req, 50);
  t.equal(r.reads(), 0, 'the peer address was never read');
  t.equal(a.clientKey(r.req), 'ip:10.0.0.1', 'but the key is there for whoever asks (the upgrade gate)');
});

t.test('a rate limit by ip: one bucket per address, batches charge each extra call', async (t) => {
  const a = new Admission(serverConfig(', rateLimit: { requestsPerSecond: 0.001, burst: 5 }'));
  const one = request({}, '10.0.0.1');
  const two = request({}, '10.0.0.2');
  a.admit(one.req);
  a.charge(one.req, 3);
  a.admit(one.req);
  t.throws(() => a.admit(one.req), RateLimitedError, 'the sixth call of 10.0.0.1 is refused');
  t.doesNotThrow(() => a.admit(two.req), 'another address has its own bucket');
  t.throws(() => a.charge(two.req, 5), RateLimitedError, 'a batch over the rest of the bucket is refused');
});

t.test('a rate limit by API key: the key, not the address, names the bucket', async (t) => {
  const a = new Admission(serverConfig(`, apiKeys: { keys: ['${KEY}'] }, rateLimit: { requestsPerSecond: 0.001, burst: 2, keyBy: apiKey }`));
  const from = (ip: string) => request({ 'x-api-key': KEY }, ip).req;
  const first = from('10.0.0.1');
  a.admit(first);
  t.equal(a.clientKey(first), `key:${KEY}`);
  t.notOk('x-api-key' in first.headers, 'the key header is taken off the request');
  a.admit(from('10.0.0.2'));
  t.throws(() => a.admit(from('10.0.0.3')), RateLimitedError, 'one bucket for the key whatever the address');
  t.throws(() => a.admit(request({ 'x-api-key': 'x'.repeat(20) }).req), UnauthorizedError);
});
