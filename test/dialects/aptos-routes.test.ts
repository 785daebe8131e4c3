// The in-place readers of aptos-routes.ts against the regex / URLSearchParams / BigInt forms they
// replace, written out here as the reference: on generated paths, queries and version texts the
// answers must be exactly the same. FUZZ_SEED / FUZZ_COUNT replay or widen.
import t from 'tap';
import { fromV1, matchRoute, negotiateAccept, parseU64, queryPairs } from '../../src/dialects/aptos-routes.js';
import { Rng } from '../support/fuzz-rng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 11);
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 20000);

const SEG = '[^/]+';
const ACCOUNT = `^/v1/accounts/${SEG}`;
/** The route table as it was first written: regexes, first match wins. */
const REFERENCE_ROUTES: ReadonlyArray<[string, 'GET' | 'POST', RegExp]> = [
  ['ledger_info', 'GET', /^\/v1$/],
  ['account', 'GET', new RegExp(`${ACCOUNT}$`)],
  ['account_resource', 'GET', new RegExp(`${ACCOUNT}/resource/${SEG}$`)],
  ['account_resources', 'GET', new RegExp(`${ACCOUNT}/resources$`)],
  ['account_module', 'GET', new RegExp(`${ACCOUNT}/module/${SEG}$`)],
  ['account_modules', 'GET', new RegExp(`${ACCOUNT}/modules$`)],
  ['account_balance', 'GET', new RegExp(`${ACCOUNT}/balance/${SEG}$`)],
  ['account_transactions', 'GET', new RegExp(`${ACCOUNT}/transactions$`)],
  ['events', 'GET', new RegExp(`${ACCOUNT}/events/${SEG}(?:/${SEG})?$`)],
  ['tx_by_hash', 'GET', /^\/v1\/transactions\/by_hash\/[^/]+$/],
  ['tx_wait_by_hash', 'GET', /^\/v1\/transactions\/wait_by_hash\/[^/]+$/],
  ['tx_by_version', 'GET', /^\/v1\/transactions\/by_version\/([^/]+)$/],
  ['block_by_height', 'GET', /^\/v1\/blocks\/by_height\/[^/]+$/],
  ['block_by_version', 'GET', /^\/v1\/blocks\/by_version\/([^/]+)$/],
  ['view', 'POST', /^\/v1\/view$/],
  ['table_item', 'POST', /^\/v1\/tables\/[^/]+\/item$/],
];

const referenceMatch = (method: string, rel: string | undefined): string | undefined =>
  rel === undefined ? undefined : REFERENCE_ROUTES.find(([, m, re]) => m === method && re.test(rel))?.[0];

function referenceFromV1(path: string): string | undefined {
  const m = /\/v1(?=\/|$)/.exec(path);
  return m === null ? undefined : path.slice(m.index);
}

function referenceU64(text: string): bigint | undefined {
  if (!/^\d{1,20}$/.test(text)) return undefined;
  const n = BigInt(text);
  return n <= 0xffff_ffff_ffff_ffffn ? n : undefined;
}

const SEGMENTS = ['accounts', 'resource', 'resources', 'module', 'modules', 'balance', 'transactions', 'events', 'by_hash', 'wait_by_hash', 'by_version',
  'blocks', 'by_height', 'view', 'tables', 'item', 'v1', 'v10', 'V1', '0x1', '7', '', '*', 'a%2Fb', 'x?y', 'é', '\n', 'resourcesx', 'acc'];
const TEMPLATES = ['', 'accounts/*', 'accounts/*/resource/*', 'accounts/*/resources', 'accounts/*/module/*', 'accounts/*/modules', 'accounts/*/balance/*',
  'accounts/*/transactions', 'accounts/*/events/*', 'accounts/*/events/*/*', 'accounts/*/events/*/*/*', 'transactions/by_hash/*', 'transactions/wait_by_hash/*',
  'transactions/by_version/*', 'blocks/by_height/*', 'blocks/by_version/*', 'view', 'view/*', 'tables/*/item', 'tables/*', 'accounts'];

function path(rng: Rng): string {
  const prefix = rng.pick(['', '', '', '/aptos/mainnet', '/x/v1', '/v1x', '/a/v10', '/v1/v1', 'v1']);
  if (rng.chance(0.75)) {
    const body = rng.pick(TEMPLATES).split('/').map((s) => (s === '*' ? rng.pick(SEGMENTS) : s)).join('/');
    return `${prefix}${body === '' ? '/v1' : `/v1/${body}`}${rng.chance(0.05) ? '/' : ''}`;
  }
  const parts = Array.from({ length: rng.int(7) }, () => rng.pick(SEGMENTS));
  return `${prefix}/${parts.join('/')}`;
}

t.test('fromV1 and matchRoute answer as the regex table', async (t) => {
  const rng = new Rng(SEED);
  const hits = new Map<string, number>();
  let differences = 0;
  for (let n = 0; n < COUNT; n++) {
    const p = path(rng);
    const rel = fromV1(p);
    if (rel !== referenceFromV1(p) && differences++ < 20) t.fail(`fromV1(${JSON.stringify(p)}) = ${rel}`);
    for (const method of ['GET', 'POST', 'HEAD']) {
      const want = referenceMatch(method, rel);
      const got = matchRoute(method, rel)?.name;
      hits.set(String(want), (hits.get(String(want)) ?? 0) + 1);
      if (got !== want && differences++ < 20) t.fail(`${method} ${JSON.stringify(rel)}: ${got}, the regexes say ${want}`);
    }
  }
  t.equal(differences, 0, `${COUNT} paths`);
  for (const [name] of REFERENCE_ROUTES) t.ok((hits.get(name) ?? 0) > 10, `${name} matched ${hits.get(name)} times`);
});

t.test('queryPairs is [...new URLSearchParams(raw)]', async (t) => {
  const rng = new Rng(SEED + 1);
  const pieces = ['ledger_version', 'limit', 'start', '=', '=', '&', '&', '?', 'a', '1', '05', '+', '%', '%2', '%41', '%zz', '%C3%A9', '%FF', ' ', '#', ';', 'é', '\u{1F600}', '\ud800', ':', '/', '~', '\t'];
  let differences = 0;
  for (let n = 0; n < COUNT; n++) {
    const raw = Array.from({ length: rng.int(10) }, () => rng.pick(pieces)).join('');
    const want = [...new URLSearchParams(raw)];
    const got = queryPairs(raw);
    if (JSON.stringify(got) !== JSON.stringify(want) && differences++ < 20) t.fail(`${JSON.stringify(raw)}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  }
  t.equal(differences, 0, `${COUNT} queries`);
});

t.test('parseU64 is the u64 regex and BigInt, remembered or not', async (t) => {
  const rng = new Rng(SEED + 2);
  const texts = ['', '0', '00', '1', '007', '18446744073709551615', '18446744073709551616', '99999999999999999999', '123456789012345678901', '-1', '+1', ' 1', '1 ', '1e3', '0x1', '١', '1\n', 'abc'];
  for (let n = 0; n < 2000; n++) texts.push(Array.from({ length: rng.int(22) }, () => rng.pick(['0', '1', '9', '5', 'a', '-'])).join(''));
  for (let round = 0; round < 2; round++) for (const s of texts) if (parseU64(s) !== referenceU64(s)) t.fail(`parseU64(${JSON.stringify(s)}) round ${round}`);
  t.pass(`${texts.length} texts, twice`);
});

t.test('negotiateAccept answers the same the second time (remembered)', async (t) => {
  for (const a of ['application/x-bcs', 'application/json;q=0.2, application/x-bcs', 'application/x-bcs;q=0', '*/*', '', 'x'.repeat(300) + ', application/x-bcs']) {
    const first = negotiateAccept(a);
    t.equal(negotiateAccept(a), first, a.slice(0, 40));
  }
  t.equal(negotiateAccept('x'.repeat(300) + ', application/x-bcs'), 'bcs');
  t.equal(negotiateAccept(undefined), 'json');
});
