// The Aptos answer judge, which reads bodies on the bytes (json-shape.ts), against the judge as it
// was written with JSON.parse (reproduced below as the reference): for every endpoint, Accept,
// content type, status, pin and a corpus of valid, truncated, wrong-shaped and tricky bodies the
// verdicts must be the same. FUZZ_SEED / FUZZ_COUNT replay or widen.
import t from 'tap';
import { aptosRest } from '../../src/dialects/aptos-rest.js';
import { ACCEPT_BCS, fromV1, matchRoute, negotiateAccept } from '../../src/dialects/aptos-routes.js';
import type { CallAnswer, UpstreamPayload } from '../../src/dialects/types.js';
import { Rng } from '../support/fuzz-rng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 3);
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 30000);

// ── The reference: the JSON.parse judge ─────────────────────────────────────────────────────────
const ARRAY_ROUTES = new Set(['view', 'account_resources', 'account_modules', 'account_transactions', 'events']);
const NUMBER_ROUTES = new Set(['account_balance']);

function parsedJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function mediaType(v: string | string[] | undefined): string {
  const text = Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  return (text.split(';')[0] ?? '').trim().toLowerCase();
}

function referenceFits(answer: CallAnswer, request: UpstreamPayload | undefined): boolean {
  const type = mediaType(answer.headers['content-type']);
  if (request === undefined) return !type.includes('json') || parsedJson(answer.body) !== undefined;
  const route = matchRoute(request.method, fromV1(request.pathAndQuery.split('?')[0] ?? ''));
  if (route === undefined) return !type.includes('json') || parsedJson(answer.body) !== undefined;
  if (negotiateAccept(request.headers.accept) === 'bcs') return type === ACCEPT_BCS;
  if (type !== 'application/json') return false;
  const doc = parsedJson(answer.body);
  if (NUMBER_ROUTES.has(route.name)) return typeof doc === 'number' || typeof doc === 'string';
  const wantArray = ARRAY_ROUTES.has(route.name);
  return typeof doc === 'object' && doc !== null && Array.isArray(doc) === wantArray;
}

function referenceJudge(answer: CallAnswer, pins: ReadonlyArray<bigint | undefined>, request?: UpstreamPayload): 'ok' | 'bad' | 'lacks-version' {
  const pin = pins[0];
  if (answer.status === 200 && !referenceFits(answer, request)) return 'bad';
  const nodeHead = aptosRest.nodeFacts(answer.headers).head;
  if (answer.status === 404 && pin !== undefined && nodeHead !== undefined && nodeHead < pin) return 'lacks-version';
  return 'ok';
}

// ── The corpus ──────────────────────────────────────────────────────────────────────────────────
const TARGETS: Array<[string, string]> = [
  ['GET', '/v1'], ['GET', '/v1/accounts/0x1?ledger_version=5'], ['GET', '/v1/accounts/0x1/resource/0x1::a::B'], ['GET', '/v1/accounts/0x1/resources?limit=2'],
  ['GET', '/v1/accounts/0x1/module/coin'], ['GET', '/v1/accounts/0x1/modules'], ['GET', '/v1/accounts/0x1/balance/0xa'], ['GET', '/v1/accounts/0x1/transactions'],
  ['GET', '/v1/accounts/0x1/events/0x1::a::B/f'], ['GET', '/v1/transactions/by_hash/0xab'], ['GET', '/v1/transactions/wait_by_hash/0xab'],
  ['GET', '/v1/transactions/by_version/9'], ['GET', '/v1/blocks/by_height/7?with_transactions=true'], ['GET', '/v1/blocks/by_version/70'],
  ['POST', '/v1/view?ledger_version=11'], ['POST', '/v1/view'], ['POST', '/v1/tables/0xabc/item'], ['GET', '/v1/spec'], ['POST', '/v1/transactions'],
  ['POST', '/v1/transactions/simulate'], ['HEAD', '/v1/accounts/0x1'], ['GET', '/aptos/mainnet/v1/accounts/0x1'],
];
const ACCEPTS = [undefined, 'application/json', 'application/x-bcs', '*/*', 'application/x-bcs;q=0', 'text/html', 'application/json;q=0.1, application/x-bcs'];
const CONTENT_TYPES = [undefined, 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', ' application/json ;x', 'application/x-bcs',
  'application/problem+json', 'text/html', 'text/json', '', ['application/json', 'text/html'], ['text/html', 'application/json']];
const BODIES = [
  '{}', '[]', '{"a":[1,2]}', '["1"]', '[{"type":"x"}]', '"12"', '12', '-1.5e3', 'true', 'null', '', ' ', '<html>down</html>', '{"a":', '[1,', '["x"',
  '[1]x', '{}{}', '01', '"\\x"', '"a\u0001"', '\ufeff[]', ' \n[ ] \t', '[1,]', '{"a":1,}', 'nul', '[' + '['.repeat(5000) + ']'.repeat(5000) + ']',
  '{"type":"user_transaction","version":"5"}', '{"error_code":"resource_not_found","message":"x"}',
];

function bodies(rng: Rng): Buffer[] {
  const out = BODIES.map((b) => Buffer.from(b));
  out.push(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), Buffer.from([0x5b, 0xff, 0x5d]), Buffer.from([0x22, 0xc3, 0x22]));
  // Truncations and byte flips of well-formed answers of every shape.
  for (const doc of ['[{"type":"0x1::coin::CoinStore","data":{"coin":{"value":"12"},"frozen":false}}]', '{"ledger_version":"5","chain_id":1}', '"18446744073709551615"', '123']) {
    const b = Buffer.from(doc);
    for (let k = 0; k <= b.length; k++) out.push(b.subarray(0, k));
    for (let k = 0; k < 20; k++) {
      const m = Buffer.from(b);
      m[rng.int(m.length)] = rng.pick([0x22, 0x2c, 0x5d, 0x7d, 0x5c, 0x00, 0x80, 0x20, 0x31]);
      out.push(m);
    }
  }
  return out;
}

t.test('the byte judge gives the JSON.parse judge its verdict on every answer', async (t) => {
  const rng = new Rng(SEED);
  const payloads: Array<UpstreamPayload | undefined> = [undefined];
  for (const [method, target] of TARGETS) {
    for (const accept of ACCEPTS) {
      const [path = '', query = ''] = target.split('?');
      const parsed = aptosRest.parse({ method, path, query, headers: accept === undefined ? {} : { accept }, body: Buffer.from('{}') }, { maxJsonDepth: 32, maxBatchLength: 100 });
      if (parsed.kind === 'rest' && parsed.call.rest) payloads.push(parsed.call.rest.payload);
    }
  }
  const corpus = bodies(rng);
  const verdicts = new Map<string, number>();
  let differences = 0;
  for (let n = 0; n < COUNT; n++) {
    const headers: CallAnswer['headers'] = { 'x-aptos-ledger-version': rng.pick(['90', '100', 'x', undefined, ['95', '200']]) };
    const ct = rng.pick(CONTENT_TYPES);
    if (ct !== undefined) headers['content-type'] = ct;
    const answer: CallAnswer = { status: rng.pick([200, 200, 200, 404, 410, 503]), headers, body: rng.pick(corpus) };
    const pins = [rng.pick([undefined, 80n, 95n, 150n])];
    const request = rng.pick(payloads);
    const want = referenceJudge(answer, pins, request);
    const got = aptosRest.judge(answer, pins, request);
    verdicts.set(want, (verdicts.get(want) ?? 0) + 1);
    if (got !== want && differences++ < 20) {
      t.fail(`${request?.method} ${request?.pathAndQuery} accept ${request?.headers.accept} ${answer.status} ${JSON.stringify(ct)} ${JSON.stringify(answer.body.subarray(0, 80).toString('latin1'))}: ${got}, JSON.parse judge ${want}`);
    }
  }
  t.equal(differences, 0, `${COUNT} answers over ${payloads.length} requests and ${corpus.length} bodies`);
  for (const v of ['ok', 'bad', 'lacks-version']) t.ok((verdicts.get(v) ?? 0) > 100, `${v}: ${verdicts.get(v)}`);
});
