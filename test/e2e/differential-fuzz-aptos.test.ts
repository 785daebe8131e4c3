// Differential fuzz, Aptos: generated REST requests (query forms, Accept and Content-Type
// variants, JSON and BCS bodies, compressed bodies) go to the spec-faithful mock fullnode
// directly and through the proxy; status, content type, the X-Aptos-* headers and the body bytes
// must be equal — the README ("What the proxy may change on the wire") lists nothing to normalise
// for Aptos reads (a version the proxy cannot read goes to the node as written). The ledger does
// not move during the run, so latest reads (which the proxy sends pinned to the head it knows)
// have one right answer. FUZZ_SEED / FUZZ_COUNT replay or widen.
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { Aptos, AptosConfig, Network } from '@aptos-labs/ts-sdk';
import { APT_COIN_STORE, APTOS_ACCOUNTS, APTOS_COIN, BALANCE_VIEW_FUNCTION, ECHO_VIEW_FUNCTION, startAptosNode } from '../support/aptos-node.js';
import { request, type HttpResponse } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { Rng } from '../support/fuzz-rng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 2020);
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 2000);
const { alice, bob, framework } = APTOS_ACCOUNTS;

interface Req { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: Buffer }

function generator(rng: Rng, bcsView: Buffer) {
  const version = (): string =>
    rng.pick([
      '', 'ledger_version=900', 'ledger_version=0900', 'ledger_version=1000',
      'ledger_version=5', 'ledger_version=5000', 'ledger_version=900&_=123',
      'ledger_version=abc', 'ledger_version=-1', 'ledger_version=900&ledger_version=901',
      'ledger_version=', 'ledger_version=18446744073709551616',
    ]);
  const accept = (): Record<string, string> => {
    const a = rng.pick([undefined, 'application/json', 'application/x-bcs', 'application/json, application/x-bcs', 'application/x-bcs, application/json',
      'application/x-bcs;q=0', 'application/json;q=0.2, application/x-bcs', '*/*', 'text/html', 'application/x-bcs;q=0.5, application/json;q=0.5']);
    return a === undefined ? {} : { accept: a };
  };
  const who = (): string => rng.pick([alice, bob, framework, '0x1', `0x${'9'.repeat(64)}`, 'not-an-address']);
  const getPaths: Array<() => { path: string; pinnable: boolean }> = [
    () => ({ path: `/v1/accounts/${who()}`, pinnable: true }),
    () => ({ path: `/v1/accounts/${who()}/resource/${rng.pick([APT_COIN_STORE, '0x1::account::Account', '0x1::nope::Nope', 'garbage'])}`, pinnable: true }),
    () => ({ path: `/v1/accounts/${who()}/resources${rng.pick(['', '?limit=1', '?limit=1&start=0'])}`, pinnable: true }),
    () => ({ path: `/v1/accounts/${rng.pick([framework, alice])}/module/${rng.pick(['coin', 'account', 'nope'])}`, pinnable: true }),
    () => ({ path: `/v1/accounts/${who()}/balance/${rng.pick([APTOS_COIN, '0xa'])}`, pinnable: true }),
    () => ({ path: `/v1/transactions/by_version/${rng.pick(['5', '900', '0', '999999', 'x', '05'])}`, pinnable: false }),
    () => ({ path: `/v1/blocks/by_height/${rng.pick(['1', '9', '0', '99999'])}${rng.pick(['', '?with_transactions=true', '?with_transactions=false'])}`, pinnable: false }),
    () => ({ path: `/v1/blocks/by_version/${rng.pick(['10', '900', 'x'])}`, pinnable: false }),
    () => ({ path: '/v1', pinnable: false }),
  ];
  const viewJson = (): Buffer =>
    Buffer.from(JSON.stringify(rng.pick([
      { function: BALANCE_VIEW_FUNCTION, type_arguments: [APTOS_COIN], arguments: [rng.pick([alice, bob])] },
      { function: ECHO_VIEW_FUNCTION, type_arguments: [], arguments: [rng.pick(['1', '18446744073709551615', 'x'])] },
      { function: '0x1::nope::nope', type_arguments: [], arguments: [] },
      { function: BALANCE_VIEW_FUNCTION },
    ])));
  const viewReq = (): Req => {
    const v = version();
    const kind = rng.int(10);
    let body: Buffer;
    let ct: string | undefined;
    if (kind < 5) [body, ct] = [viewJson(), rng.pick(['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'])];
    else if (kind < 7) [body, ct] = [rng.chance(0.8) ? bcsView : bcsView.subarray(0, 7), 'application/x.aptos.view_function+bcs'];
    else if (kind < 8) [body, ct] = [viewJson(), rng.pick([undefined, 'text/plain'])];
    else [body, ct] = [Buffer.from(rng.pick(['{', '[]', '', 'null', '{"function":1}'])), 'application/json'];
    const headers: Record<string, string> = { ...accept() };
    if (ct !== undefined) headers['content-type'] = ct;
    if (rng.chance(0.15)) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    return { method: 'POST', path: `/v1/view${v ? `?${v}` : ''}`, headers, body };
  };
  return (): Req => {
    if (rng.chance(0.3)) return viewReq();
    const { path, pinnable } = rng.pick(getPaths)();
    const v = pinnable ? version() : '';
    const sep = path.includes('?') ? '&' : '?';
    return { method: 'GET', path: v ? `${path}${sep}${v}` : path, headers: accept() };
  };
}

/** A BCS view body as the official SDK sends it (captured from one real SDK call). */
async function sdkBcsView(nodeUrl: string, requests: () => Array<{ route: string; body: Buffer }>): Promise<Buffer> {
  const sdk = new Aptos(new AptosConfig({ network: Network.CUSTOM, fullnode: `${nodeUrl}/v1` }));
  await sdk.view({ payload: { function: BALANCE_VIEW_FUNCTION, typeArguments: [APTOS_COIN], functionArguments: [alice] } });
  const body = requests().find((r) => r.route === 'view')?.body;
  if (!body) throw new Error('the SDK sent no view');
  return body;
}

const aptosHeaders = (r: HttpResponse): Record<string, unknown> =>
  Object.fromEntries(Object.entries(r.headers).filter(([k]) => k.startsWith('x-aptos-') || k === 'content-type').sort());

t.test('the mock fullnode directly and through the proxy answer alike', async (t) => {
  const node = await startAptosNode();
  t.teardown(() => node.close());
  const bcsView = await sdkBcsView(node.url, () => node.requests);
  const proxy = await startTestProxy(`
upstreams:
  aptos: { dialect: aptos-rest, primary: ${node.url}, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: /v1 }
    upstream: aptos
`);
  t.teardown(() => proxy.close());
  const next = generator(new Rng(SEED), bcsView);
  const all = Array.from({ length: COUNT }, () => next());
  const failures: string[] = [];
  const send = (base: string, r: Req) => request(`${base}${r.path}`, { method: r.method, headers: r.headers, body: r.body });
  const check = async (n: number, r: Req): Promise<void> => {
    const [d, p] = await Promise.all([send(node.url, r), send(proxy.url, r)]);
    const fail = (why: string): void =>
      void failures.push(`#${n} ${why}: ${r.method} ${r.path} ${JSON.stringify(r.headers)}\n  node:  ${d.status} ${d.text().slice(0, 200)}\n  proxy: ${p.status} ${p.text().slice(0, 200)}`);
    if (p.status !== d.status) return fail('status');
    if (JSON.stringify(aptosHeaders(p)) !== JSON.stringify(aptosHeaders(d))) return fail(`headers ${JSON.stringify(aptosHeaders(p))} vs ${JSON.stringify(aptosHeaders(d))}`);
    if (!p.body.equals(d.body)) fail('body');
  };
  const started = Date.now();
  let cursor = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (cursor < all.length) {
      const n = cursor++;
      await check(n, all[n] as Req);
    }
  }));
  t.pass(`${COUNT} requests compared in ${Date.now() - started} ms (seed ${SEED})`);
  t.same(failures.slice(0, 10), [], `${failures.length} differences`);
  if (process.env['FUZZ_DUMP']) console.log(failures.join('\n'));
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
