// Config reload while requests run. A request uses the runtime it leased when it started, to its
// end: a reload never closes the pools under it and never lets it read another config's routes.
// Two reproduced defects, then a load run with 20 reloads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startGroupNode, type GroupNode } from '../support/group-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';

const VIEW = (arg: string) => JSON.stringify({ function: '0x1::mock::echo', type_arguments: [], arguments: [arg] });

interface Layout {
  /** Group route /v1 points at. */
  v1: 'a' | 'b';
  /** A route placed first (never matched by the load: another host), shifting /v1's route index. */
  extraFirst: boolean;
  name: string;
}

function config(nodes: Record<'a' | 'b' | 'c', GroupNode>, layout: Layout): string {
  const group = (n: GroupNode) => `{ dialect: aptos-rest, primary: ${n.url}, head: { pollIntervalMs: 200 } }`;
  const extra = layout.extraFirst ? `  - match: { pathPrefix: /v1, host: other.example }\n    upstream: c\n` : '';
  return `
server:
  listen: 127.0.0.1:0
  admin: 127.0.0.1:0
  shutdown: { drainDelayMs: 0, deadlineMs: 5000 }
upstreams:
  a: ${group(nodes.a)}
  b: ${group(nodes.b)}
  c: ${group(nodes.c)}
routes:
${extra}  - name: ${layout.name}
    match: { pathPrefix: /v1 }
    upstream: ${layout.v1}
`;
}

async function setup(t: Test, delayMs?: () => number) {
  const nodes = { a: await startGroupNode('a', { delayMs }), b: await startGroupNode('b', { delayMs }), c: await startGroupNode('c') };
  t.teardown(() => Promise.all(Object.values(nodes).map((n) => n.close())));
  const file = join(mkdtempSync(join(tmpdir(), 'lp-reload-load-')), 'proxy.config.yaml');
  const first: Layout = { v1: 'a', extraFirst: false, name: 'r0' };
  writeFileSync(file, config(nodes, first));
  const proxy = await startTestProxy(config(nodes, first), { configFile: file });
  t.teardown(() => proxy.close());
  const reload = async (layout: Layout) => {
    writeFileSync(file, config(nodes, layout));
    const res = await proxy.running.reload();
    if (!res.ok) throw new Error(`reload refused: ${res.error}`);
  };
  return { nodes, proxy, reload };
}

/** A POST /v1/view whose headers go now and whose body goes when send() is called. */
function slowBodyView(proxy: TestProxy, body: string): { send(): void; done: Promise<{ status: number; body: string; xCache: string }> } {
  const url = new URL(`${proxy.url}/v1/view?ledger_version=900`);
  let send = () => undefined as void;
  const done = new Promise<{ status: number; body: string; xCache: string }>((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), xCache: String(res.headers['x-cache']) }));
    });
    req.on('error', reject);
    req.flushHeaders();
    send = () => void req.end(body);
  });
  return { send, done };
}

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('a request whose body arrives after a reload is served by the runtime it started on', async (t) => {
  const { proxy, reload } = await setup(t);
  const before = proxy.state.runtime;
  const slow = slowBodyView(proxy, VIEW('late-body'));
  await until(() => before.leased === 1, 'the request to hold a lease');
  await reload({ v1: 'a', extraFirst: false, name: 'renamed' });
  t.not(proxy.state.runtime, before, 'new runtime in force');
  slow.send();
  const res = await slow.done;
  t.equal(res.status, 200, 'not 502 UND_ERR_DESTROYED: the old pools stay open while the request holds its lease');
  t.equal(res.body, '["a"]');
  await until(() => before.leased === 0, 'the lease to be released');
});

t.test('a reload moving route 0 from group a to b never serves a\'s answer for b', async (t) => {
  const { nodes, proxy, reload } = await setup(t);
  const before = proxy.state.runtime;
  const body = VIEW('moved');
  const spanning = slowBodyView(proxy, body);
  await until(() => before.leased === 1, 'the request to hold a lease');
  await reload({ v1: 'b', extraFirst: false, name: 'moved' });
  spanning.send();
  const old = await spanning.done;
  t.equal(old.body, '["a"]', 'the spanning request answers for the route as it was when it started');
  const fresh = await request(`${proxy.url}/v1/view?ledger_version=900`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  t.equal(fresh.status, 200);
  t.equal(fresh.text(), '["b"]', 'a fresh request gets b\'s answer');
  t.equal(fresh.header('x-cache'), 'MISS', 'not a HIT planted by the spanning request');
  t.equal(nodes.b.views, 1, 'b was asked');
  const again = await request(`${proxy.url}/v1/view?ledger_version=900`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  t.equal(again.text(), '["b"]');
  t.equal(again.header('x-cache'), 'HIT');
});

t.test('20 reloads under load: no failed request, no answer from a group its route did not name', async (t) => {
  // Answers take 0-4 ms, so requests are in flight across every reload.
  const { proxy, reload } = await setup(t, () => Math.floor(Math.random() * 5));
  const layouts: Layout[] = [];
  for (let i = 1; i <= 20; i++) layouts.push({ v1: i % 3 === 0 ? 'b' : i % 3 === 1 ? 'a' : 'b', extraFirst: i % 4 >= 2, name: `gen${i}` });
  // generation g is in force after reload g; generation 0 is the first config.
  const groupOf = (g: number) => (g === 0 ? 'a' : (layouts[g - 1] as Layout).v1);
  // A request that starts at generation `from` (read before it is sent) and ends by `to` (the
  // newest generation being put in force when its answer arrived) met one of those configs.
  let generation = 0;
  let pending = 0;
  let stop = false;
  const failures: string[] = [];
  const crossed: string[] = [];
  let served = 0;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const from = generation;
      const pinned = i % 3 !== 0;
      const url = `${proxy.url}/v1/view${pinned ? `?ledger_version=${900 + (i % 4)}` : ''}`;
      const body = VIEW(`w${w % 3}-${i % 5}`);
      try {
        const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const to = pending;
        served++;
        if (res.status !== 200) failures.push(`${res.status} ${res.text()}`);
        const allowed = new Set<string>();
        for (let g = from; g <= to; g++) allowed.add(groupOf(g));
        const group = (JSON.parse(res.text()) as string[])[0] ?? '';
        if (!allowed.has(group)) crossed.push(`${res.header('x-cache')} from ${group}, route named ${[...allowed].join('|')} (gen ${from}..${to})`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const workers = Array.from({ length: 6 }, (_, w) => worker(w));
  // Each config serves at least 10 answers before the next reload (waited for, not slept for), so
  // every reload lands among requests in flight whatever the machine's speed.
  for (const [i, layout] of layouts.entries()) {
    const mark = served;
    await until(() => served >= mark + 10, `10 answers under generation ${i}`, 20_000);
    pending = i + 1;
    await reload(layout);
    generation = i + 1;
  }
  const mark = served;
  await until(() => served >= mark + 10, '10 answers under the last generation', 20_000);
  stop = true;
  await Promise.all(workers);
  t.ok(served >= 210, `load ran: ${served} requests across 21 configs`);
  t.same(failures, [], '0 failed requests');
  t.same(crossed, [], 'every answer came from the group its route named');
  await until(() => proxy.state.runtime.leased === 0, 'no lease left on the current runtime');
});
