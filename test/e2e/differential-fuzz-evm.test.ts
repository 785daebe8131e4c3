// Differential fuzz, EVM: a few thousand generated JSON-RPC requests (valid and invalid envelopes,
// ids of every type, params of every shape and number form, batches with duplicates and junk) go
// to ganache directly and through the proxy; every answer must be equal after normalising only
// what the README ("What the proxy may change on the wire") allows:
//   1. JSON member order and insignificant whitespace of the envelope (compared as values);
//   2. elements that are not valid JSON-RPC 2.0 requests are answered by the proxy itself, as the
//      spec says (-32600 with the element's id when it had a valid one, else null; malformed JSON
//      -32700 / 400; an empty batch or a non-object document -32600 / 400) — ganache is lenient
//      there, so those are checked against the spec, not against ganache;
//   3. notifications get no answer (204 when the request holds nothing else).
// Seeded and reproducible: FUZZ_SEED=n FUZZ_COUNT=n to replay or widen a run.
import t from 'tap';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';
import { startGanache } from '../support/ganache-node.js';
import { canonicalJson, Rng } from '../support/fuzz-rng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 1010);
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 2500);
const FUNDED = '0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1';
const ZERO = '0x0000000000000000000000000000000000000000';

type Kind = 'valid' | 'notification' | 'invalid';
interface Element { text: string; kind: Kind; id?: unknown }
type Generated = { whole: 'malformed' | 'empty' | 'scalar'; text: string } | { batch: boolean; elements: Element[] };

function generator(rng: Rng, hashes: { block1: string; random: string }) {
  const ids = (): [string, unknown] =>
    rng.pick<[string, unknown]>([
      ['1', 1], ['-7', -7], ['1.5', 1.5], ['1e3', 1000], ['12345678901234567891', 12345678901234567891], ['"a"', 'a'],
      // No `""` and no `0`: ganache answers an error to such an id with id null (a falsy-id bug;
      // the proxy keeps the client's id, as the spec says).
      ['"ü\\u00e9\\n"', 'ü\u00e9\n'], ['null', null], [String(1 + rng.int(999)), undefined],
    ]);
  const blocks = (): string =>
    rng.pick([
      '"latest"', '"earliest"', '"pending"', '"safe"', '"finalized"', '"0x0"', '"0x1"', '"0x2"', '"0x3"', '"0x01"', '"0X1"', '"0xA"',
      '"0x"', '"0xzz"', '"1"', '1', 'null', '"0xffffffffffffffffff"', `{"blockNumber":"0x1"}`, `{"blockNumber":"0x0001"}`,
      `{"blockNumber":"0x2","requireCanonical":true}`, `{"blockHash":"${hashes.block1}"}`, `{"blockHash":"${hashes.block1}","requireCanonical":false}`,
      `"${hashes.block1}"`, `"${hashes.random}"`, '"Latest"', '[]', '{}',
    ]);
  const addr = (): string => rng.pick([`"${FUNDED}"`, `"${ZERO}"`, `"${FUNDED.toUpperCase().replace('0X', '0x')}"`, '"0x12"', '42']);
  const stateBlock = (): string => rng.pick(['"latest"', '"0x1"', '"0x3"', '"earliest"', '"0x01"', 'null', `"${hashes.block1}"`, blocks()]);
  const withBlock = (head: string[]): string => {
    const list = [...head];
    if (!rng.chance(0.15)) list.push(stateBlock());
    if (rng.chance(0.05)) list.push('"extra"');
    return `[${list.join(rng.pick([',', ' , ', ',\n']))}]`;
  };
  const methods: Array<() => [string, string | undefined]> = [
    () => ['eth_getBalance', withBlock([addr()])],
    () => ['eth_getCode', withBlock([addr()])],
    () => ['eth_getTransactionCount', withBlock([addr()])],
    () => ['eth_getStorageAt', withBlock([addr(), rng.pick(['"0x0"', '"0x1"', '"0x00"', '0'])])],
    () => ['eth_call', withBlock([rng.pick([`{"to":"${ZERO}","data":"0x"}`, `{"to":"${FUNDED}"}`, `{"data":"0x00","to":"${ZERO}","value":1e3}`, '{}', '"x"'])])],
    // `pending` blocks carry the wall clock: left out where the answer is a whole block.
    () => ['eth_getBlockByNumber', `[${rng.pick(['"latest"', '"earliest"', '"0x1"', '"0x2"', '"0x01"', '"0x99"', '"0x"', 'null', '1', `{"blockNumber":"0x1"}`])},${rng.pick(['true', 'false', '0', '"x"'])}]`],
    () => ['eth_getBlockByHash', `[${rng.pick([`"${hashes.block1}"`, `"${hashes.random}"`, '"0x12"'])},${rng.pick(['true', 'false'])}]`],
    () => ['eth_getBlockTransactionCountByNumber', `[${rng.pick(['"0x1"', '"latest"', '"0x01"', '"earliest"'])}]`],
    () => ['eth_getTransactionByHash', `["${hashes.random}"]`],
    () => ['eth_getTransactionReceipt', `[${rng.pick([`"${hashes.random}"`, '"0x1"', '1'])}]`],
    () => ['eth_chainId', rng.pick(['[]', undefined, 'null', '{}', '[1]'])],
    () => ['net_version', rng.pick(['[]', undefined])],
    () => ['eth_blockNumber', rng.pick(['[]', undefined, 'null'])],
    () => ['eth_gasPrice', '[]'],
    () => ['eth_getLogs', `[{"fromBlock":${rng.pick(['"0x0"', '"earliest"', '"0x01"'])},"toBlock":"latest"}]`],
    () => ['eth_estimateGas', `[{"from":"${FUNDED}","to":"${ZERO}","value":"0x1"}]`],
    () => ['web3_clientVersion', '[]'],
    () => ['eth_syncing', '[]'],
    () => [rng.pick(['foo_bar', 'eth_nope', '', 'ETH_CHAINID']), '[]'],
  ];

  const validElement = (notification: boolean): Element => {
    const [method, params] = rng.pick(methods)();
    const [idText, id] = ids();
    const members = [`"jsonrpc":"2.0"`, `"method":${JSON.stringify(method)}`];
    if (params !== undefined) members.push(`"params":${params}`);
    if (!notification) members.push(`"id":${idText}`);
    if (rng.chance(0.3)) members.reverse();
    return notification ? { text: `{${members.join(',')}}`, kind: 'notification' } : { text: `{${members.join(rng.pick([',', ', ']))}}`, kind: 'valid', id: id ?? JSON.parse(idText) };
  };
  const invalidElement = (): Element =>
    rng.pick<Element>([
      { text: '1', kind: 'invalid', id: null },
      { text: '"x"', kind: 'invalid', id: null },
      { text: 'null', kind: 'invalid', id: null },
      { text: '[]', kind: 'invalid', id: null },
      { text: '{"foo":"boo"}', kind: 'invalid', id: null },
      { text: '{"jsonrpc":"2.0","method":1}', kind: 'invalid', id: null },
      { text: '{"jsonrpc":"2.0","id":4}', kind: 'invalid', id: 4 },
      { text: '{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}', kind: 'invalid', id: null },
      { text: '{"jsonrpc":"2.0","id":[1],"method":"eth_chainId"}', kind: 'invalid', id: null },
      { text: '{"jsonrpc":"2.0","id":true,"method":"eth_chainId"}', kind: 'invalid', id: null },
      { text: '{"jsonrpc":"1.0","id":5,"method":"eth_chainId"}', kind: 'invalid', id: 5 },
      { text: '{"jsonrpc":2,"id":"s","method":"eth_chainId"}', kind: 'invalid', id: 's' },
      { text: '{"jsonrpc":"2.0","id":6,"method":"eth_chainId","params":"x"}', kind: 'invalid', id: 6 },
      { text: '{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":3}', kind: 'invalid', id: 7 },
    ]);
  const element = (): Element => (rng.chance(0.12) ? invalidElement() : validElement(rng.chance(0.06)));
  // Alone, a non-object element is a whole document (an empty batch, a scalar): those are below.
  const single = (): Element => {
    const e = element();
    return e.kind === 'invalid' && !e.text.startsWith('{') ? single() : e;
  };

  return (): Generated => {
    const r = rng.next();
    if (r < 0.01) return { whole: 'malformed', text: rng.pick(['{bad', '[', '{"jsonrpc":"2.0",}', '']) };
    if (r < 0.02) return { whole: 'empty', text: rng.pick(['[]', ' [ ] ']) };
    if (r < 0.03) return { whole: 'scalar', text: rng.pick(['"x"', '1', 'null', 'true']) };
    if (r < 0.6) return { batch: false, elements: [single()] };
    const n = 1 + rng.int(6);
    const elements: Element[] = [];
    for (let i = 0; i < n; i++) elements.push(i > 0 && rng.chance(0.2) ? (elements[rng.int(i)] as Element) : element());
    return { batch: true, elements };
  };
}

t.test('ganache directly and through the proxy answer alike', async (t) => {
  const node = await startGanache();
  t.teardown(() => node.close());
  await node.mine(3);
  const block1 = (await node.rpc<{ hash: string }>('eth_getBlockByNumber', ['0x1', false])).hash;
  const proxy = await startTestProxy(`
upstreams:
  evm: { dialect: evm-jsonrpc, primary: ${node.url}, finalityDepth: 0, head: { pollIntervalMs: 60000 } }
routes:
  - match: { pathPrefix: / }
    upstream: evm
`);
  t.teardown(() => proxy.close());
  const next = generator(new Rng(SEED), { block1, random: `0x${'5e'.repeat(32)}` });
  const post = (url: string, text: string) => request(url, { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
  const failures: string[] = [];
  let compared = 0;

  const check = async (n: number, g: Generated): Promise<void> => {
    const text = 'whole' in g ? g.text : g.batch ? `[${g.elements.map((e) => e.text).join(',')}]` : (g.elements[0] as Element).text;
    // Invalid elements are judged against the spec, not ganache (which crashes on a `null` one):
    // ganache gets a harmless stand-in at their positions, so the other answers stay aligned.
    const nodeText = 'whole' in g ? (g.text.trim() === 'null' ? '1' : g.text) : g.batch ? `[${g.elements.map((e) => (e.kind === 'invalid' ? '1' : e.text)).join(',')}]` : (g.elements[0] as Element).kind === 'invalid' ? '1' : text;
    const [direct, proxied] = await Promise.all([post(node.url, nodeText), post(proxy.url, text)]);
    const fail = (why: string): void => void failures.push(`#${n} ${why}\n  request: ${text.slice(0, 300)}\n  node:  ${direct.status} ${direct.text().slice(0, 300)}\n  proxy: ${proxied.status} ${proxied.text().slice(0, 300)}`);
    compared++;
    if ('whole' in g) {
      const code = g.whole === 'malformed' ? -32700 : -32600;
      const body = safeJson(proxied.text()) as { id?: unknown; error?: { code?: unknown } } | undefined;
      if (proxied.status !== 400 || body?.id !== null || body.error?.code !== code) fail(`whole request: expected 400 / ${code}`);
      return;
    }
    const answered = g.elements.filter((e) => e.kind !== 'notification');
    if (answered.length === 0) {
      if (proxied.status !== 204 || proxied.body.length !== 0) fail('only notifications: expected 204');
      return;
    }
    const nodeDoc = safeJson(direct.text());
    const nodeEls = g.batch ? (Array.isArray(nodeDoc) ? nodeDoc : []) : [nodeDoc];
    const expected: unknown[] = [];
    g.elements.forEach((e, i) => {
      if (e.kind === 'valid') expected.push(nodeEls[i]);
      else if (e.kind === 'invalid') expected.push({ spec: true, id: e.id, code: -32600 });
    });
    const got = safeJson(proxied.text());
    const gotEls = g.batch ? (Array.isArray(got) ? got : undefined) : [got];
    if (!gotEls || gotEls.length !== expected.length) return fail(`expected ${expected.length} answers`);
    const wantStatus = g.batch || (g.elements[0] as Element).kind === 'invalid' ? 200 : direct.status;
    if (proxied.status !== wantStatus) return fail(`status ${proxied.status}, want ${wantStatus}`);
    expected.forEach((want, i) => {
      const el = gotEls[i] as { jsonrpc?: unknown; id?: unknown; error?: { code?: unknown; message?: unknown } };
      if (want && typeof want === 'object' && 'spec' in want) {
        const w = want as unknown as { id: unknown; code: number };
        if (el?.jsonrpc !== '2.0' || canonicalJson(el.id) !== canonicalJson(w.id) || el.error?.code !== w.code || typeof el.error.message !== 'string') fail(`element ${i}: expected the spec's -32600`);
      } else if (canonicalJson(withoutStack(el)) !== canonicalJson(withoutStack(want))) fail(`element ${i} differs`);
    });
  };

  const started = Date.now();
  const all = Array.from({ length: COUNT }, () => next());
  let cursor = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (cursor < all.length) {
      const n = cursor++;
      await check(n, all[n] as Generated);
    }
  }));
  t.equal(compared, COUNT, `${COUNT} requests compared in ${Date.now() - started} ms (seed ${SEED})`);
  t.same(failures.slice(0, 10), [], `${failures.length} differences`);
  if (process.env['FUZZ_DUMP']) console.log(failures.map((f) => f.split('\n').slice(0, 4).map((l) => l.slice(0, 400)).join('\n')).join('\n'));
});

/**
 * ganache puts its own call path into errors (`error.stack`): a call the proxy sent alone (a write
 * split out of a batch) shows a different path than inside the batch. Not part of JSON-RPC.
 */
function withoutStack(el: unknown): unknown {
  const e = el as { error?: Record<string, unknown> } | undefined;
  if (!e || typeof e !== 'object' || !e.error || typeof e.error !== 'object') return el;
  const { stack: _stack, ...error } = e.error;
  return { ...e, error };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
