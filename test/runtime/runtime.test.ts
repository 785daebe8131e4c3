// The leased runtime: a replaced runtime closes its pools when its last lease is released, or at
// the grace deadline, never while a request holds it.
import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { hostNameOf, Runtime } from '../../src/runtime/runtime.js';

// Nodes are never contacted: the runtime is not started.
const config = parseConfigText(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
upstreams:
  a: { dialect: aptos-rest, primary: http://127.0.0.1:9/ }
routes:
  - match: { pathPrefix: /v1 }
    upstream: a
`, 'test');

function poolClosed(rt: Runtime): boolean {
  return [...rt.groups.values()].every((g) => g.set.all.every((n) => n.pool.closed || n.pool.destroyed));
}

t.test('retire waits for the last lease, then closes the pools', async (t) => {
  const rt = new Runtime(config);
  const one = rt.acquire();
  const two = rt.acquire();
  t.equal(rt.leased, 2);
  let closed = false;
  const retired = rt.retire(10_000).then(() => { closed = true; });
  one.release();
  one.release();
  t.equal(rt.leased, 1, 'a second release of the same lease is a no-op');
  await new Promise((r) => setImmediate(r));
  t.equal(closed, false, 'still leased: pools open');
  t.notOk(poolClosed(rt));
  two.release();
  await retired;
  t.ok(poolClosed(rt), 'closed once the last lease was released');
});

t.test('retire without leases closes at once; a lease never released is cut at the grace deadline', async (t) => {
  const idle = new Runtime(config);
  await idle.retire(10_000);
  t.ok(poolClosed(idle));
  const stuck = new Runtime(config);
  stuck.acquire();
  const started = Date.now();
  await stuck.retire(100);
  t.ok(Date.now() - started >= 90, 'waited for the deadline');
  t.ok(poolClosed(stuck));
});

t.test('match: first matching route wins, by path prefix boundary', async (t) => {
  const rt = new Runtime(config);
  t.teardown(() => rt.close());
  t.equal(rt.match('GET', '/v1/accounts', undefined)?.index, 0);
  t.equal(rt.match('GET', '/v10', undefined), undefined);
});

t.test('match: a route that takes GET takes HEAD; other method lists do not', async (t) => {
  const rt = new Runtime(parseConfigText(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
upstreams:
  a: { dialect: aptos-rest, primary: http://127.0.0.1:9/ }
routes:
  - match: { pathPrefix: /v1, methods: [GET, POST] }
    upstream: a
  - match: { pathPrefix: /rpc, methods: [POST] }
    upstream: a
`, 'test'));
  t.teardown(() => rt.close());
  t.equal(rt.match('HEAD', '/v1', undefined)?.index, 0);
  t.equal(rt.match('PUT', '/v1', undefined), undefined);
  t.equal(rt.match('HEAD', '/rpc', undefined), undefined, 'no GET, no HEAD');
});

t.test('hostNameOf is the old pattern form, host.replace(/:\\d+$/, "").toLowerCase()', async (t) => {
  const hosts = ['', 'a', 'A.Example.COM', 'example.com:8080', 'example.com:', ':80', '80', 'a:12:34', 'x:1a', '[::1]', '[::1]:9090', '::1', 'h:007', 'H:', '1.2.3.4:5'];
  for (const h of hosts) t.equal(hostNameOf(h), h.replace(/:\d+$/, '').toLowerCase(), JSON.stringify(h));
  t.equal(hostNameOf(undefined), undefined);
});

t.test('match: host rules are exact, case-insensitive, port ignored; the first match wins in order', async (t) => {
  const rt = new Runtime(parseConfigText(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
upstreams:
  a: { dialect: aptos-rest, primary: http://127.0.0.1:9/ }
routes:
  - match: { pathPrefix: /v1, host: Aptos.Example }
    upstream: a
  - match: { pathPrefix: /v1/, methods: [POST] }
    upstream: a
  - match: { pathPrefix: / }
    upstream: a
`, 'test'));
  t.teardown(() => rt.close());
  t.equal(rt.match('GET', '/v1/x', 'aptos.example:8080')?.index, 0);
  t.equal(rt.match('GET', '/v1', 'APTOS.EXAMPLE')?.index, 0);
  t.equal(rt.match('POST', '/v1/x', 'other.example')?.index, 1, 'another host falls through to the next rule');
  t.equal(rt.match('POST', '/v1/x', undefined)?.index, 1, 'no Host header: host rules never match');
  t.equal(rt.match('GET', '/v1/x', undefined)?.index, 2);
  t.equal(rt.match('POST', '/v1', undefined)?.index, 2, 'a prefix written /v1/ does not take /v1 itself');
});
