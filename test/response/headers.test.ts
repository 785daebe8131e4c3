import t from 'tap';
import { Rng } from '../support/fuzz-rng.js';
import { acceptsGzip, keptHeaders, passableResponseHeaders } from '../../src/response/headers.js';

t.test('acceptsGzip', async (t) => {
  const rows: Array<[string | string[] | undefined, boolean]> = [
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['GZIP', true],
    ['x-gzip', true],
    ['gzip, deflate, br', true],
    ['br, gzip;q=0.1', true],
    ['gzip;q=1.0', true],
    ['gzip; q=0.001', true],
    ['gzip;q=0', false],
    ['gzip; q=0', false],
    ['gzip;q=0.0', false],
    ['gzip;q=0.000', false],
    ['GZIP;Q=0', false],
    ['identity', false],
    ['identity;q=1, deflate', false],
    ['deflate, br', false],
    ['*', true],
    ['*;q=0.5', true],
    ['*;q=0', false],
    ['deflate, *;q=0.5', true],
    // An explicit gzip weight wins over the wildcard, in either order.
    ['gzip;q=0, *', false],
    ['*, gzip;q=0', false],
    ['*;q=0, gzip', true],
    ['gzip;level=9', true],
    // Arrays (repeated header lines) are read as one list.
    [['deflate', 'gzip'], true],
    [['gzip;q=0', '*'], false],
    [['identity'], false],
    [[], false],
  ];
  for (const [value, expected] of rows) t.equal(acceptsGzip(value), expected, JSON.stringify(value));
});

t.test('acceptsGzip allows optional whitespace around ";" (RFC 9110 weight = OWS ";" OWS "q=" qvalue)', async (t) => {
  t.equal(acceptsGzip('gzip ;q=1'), true, '"gzip ;q=1" accepts gzip');
  t.equal(acceptsGzip('gzip ; q=0.5'), true, '"gzip ; q=0.5" accepts gzip');
  t.equal(acceptsGzip('*, gzip ;q=0'), false, '"*, gzip ;q=0" refuses gzip');
});

t.test('passableResponseHeaders drops hop-by-hop and recomputed headers', async (t) => {
  const out = passableResponseHeaders({
    'content-type': 'application/json',
    connection: 'keep-alive',
    'keep-alive': 'timeout=5',
    'proxy-connection': 'keep-alive',
    'proxy-authenticate': 'Basic',
    'proxy-authorization': 'Basic abc',
    te: 'trailers',
    trailer: 'x-checksum',
    'transfer-encoding': 'chunked',
    upgrade: 'websocket',
    'content-length': '12',
    'content-encoding': 'gzip',
    date: 'Tue, 01 Jan 2030 00:00:00 GMT',
    'x-aptos-ledger-version': '42',
    'cache-control': 'no-store',
    'x-missing': undefined,
  });
  t.same(out, [
    ['content-type', 'application/json'],
    ['x-aptos-ledger-version', '42'],
    ['cache-control', 'no-store'],
  ]);
});

t.test('passableResponseHeaders drops headers named in Connection', async (t) => {
  const out = passableResponseHeaders({
    connection: 'close, X-Private-Hop ,  x-other',
    'x-private-hop': 'secret',
    'x-other': '1',
    'x-kept': 'yes',
  });
  t.same(out, [['x-kept', 'yes']]);
  const fromArray = passableResponseHeaders({ connection: ['x-a', 'x-b'], 'x-a': '1', 'x-b': '2', 'x-c': '3' });
  t.same(fromArray, [['x-c', '3']], 'Connection given as several lines');
});

t.test('passableResponseHeaders keeps every value of a repeated header', async (t) => {
  const out = passableResponseHeaders({ 'set-cookie': ['a=1', 'b=2'], link: '<x>' });
  t.same(out, [
    ['set-cookie', 'a=1'],
    ['set-cookie', 'b=2'],
    ['link', '<x>'],
  ]);
});

t.test('keptHeaders keeps the single-valued headers the rule names, sorted by name', async (t) => {
  const out = keptHeaders({ 'x-b': '2', 'content-type': 'x', 'x-a': '1', 'x-arr': ['1', '2'], 'x-u': undefined, date: 'd' }, (n) => n.startsWith('x-') || n === 'content-type');
  t.same(out, [['content-type', 'x'], ['x-a', '1'], ['x-b', '2']]);
  t.same(keptHeaders({}, () => true), []);
});

t.test('relayedResponseHeaders: raw undici pairs → the writeHead list and the parsed object, in one pass', async (t) => {
  const { relayedResponseHeaders, passThroughResponseHeaders } = await import('../../src/response/headers.js');
  const raw = (pairs: string[]) => pairs.map((s) => Buffer.from(s, 'latin1'));
  const plain = relayedResponseHeaders(raw(['Content-Type', 'application/json', 'Set-Cookie', 'a=1', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'b=2', 'Keep-Alive', 'timeout=5']));
  t.same(plain.flat, ['content-type', 'application/json', 'set-cookie', 'a=1', 'set-cookie', 'b=2'], 'hop-by-hop dropped, repeated names kept in order');
  t.same(plain.parsed, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'transfer-encoding': 'chunked', 'keep-alive': 'timeout=5' });
  const listed = relayedResponseHeaders(raw(['Connection', 'keep-alive, X-Hop, Content-Length', 'X-Hop', 'no', 'Content-Length', '5', 'X-Aptos-Ledger-Version', '9']));
  t.same(listed.flat, ['content-length', '5', 'x-aptos-ledger-version', '9'], 'Connection-listed names stay on the node hop, except the framing');
  t.same(listed.flat, passThroughResponseHeaders(listed.parsed), 'the same rule as passThroughResponseHeaders');
});

// The header filters walk the object in place; the reference is the Object.entries form they
// replace. Generated header objects (arrays, undefined values, numeric names, Connection lists,
// insertion orders) must give the same lists in the same order.
t.test('keptHeaders and passableResponseHeaders equal their Object.entries reference', async (t) => {
  const notForwarded = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'content-encoding', 'date']);
  const listed = (v: string | string[] | undefined) => new Set((Array.isArray(v) ? v.join(',') : (v ?? '')).split(',').map((x) => x.trim().toLowerCase()).filter(Boolean));
  const passableReference = (h: Record<string, string | string[] | undefined>) => {
    const tokens = listed(h['connection']);
    const out: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(h)) {
      if (value === undefined || notForwarded.has(name) || tokens.has(name)) continue;
      if (Array.isArray(value)) for (const v of value) out.push([name, v]);
      else out.push([name, value]);
    }
    return out;
  };
  const keptReference = (h: Record<string, string | string[] | undefined>, keep: (n: string) => boolean) =>
    Object.entries(h).filter((e): e is [string, string] => typeof e[1] === 'string' && keep(e[0])).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const names = ['content-type', 'x-aptos-ledger-version', 'x-aptos-chain-id', 'x-aptos-epoch', 'x-aptos-', 'x-aptosx', 'date', 'content-length', 'connection', 'keep-alive',
    'set-cookie', 'x-foo', 'foo', 'cache-control', '1', '10', '2', 'Z', 'a', 'x-aptos-10', 'x-aptos-9', 'transfer-encoding', 'etag'];
  const values = ['v', '', 'keep-alive', 'close', 'x-foo, Foo', ' X-APTOS-EPOCH ,date', ['a', 'b'], ['keep-alive', 'foo'], [], undefined];
  const rules = [(n: string) => n === 'content-type' || n.startsWith('x-aptos-'), (n: string) => n === 'content-type', () => true];
  const rng = new Rng(5);
  let differences = 0;
  for (let n = 0; n < 5000; n++) {
    const h: Record<string, string | string[] | undefined> = {};
    for (let k = rng.int(12); k > 0; k--) h[rng.pick(names)] = rng.pick(values);
    if (JSON.stringify(passableResponseHeaders(h)) !== JSON.stringify(passableReference(h)) && differences++ < 10) t.fail(`passable ${JSON.stringify(h)}`);
    const keep = rng.pick(rules);
    if (JSON.stringify(keptHeaders(h, keep)) !== JSON.stringify(keptReference(h, keep)) && differences++ < 10) t.fail(`kept ${JSON.stringify(h)}`);
  }
  t.equal(differences, 0, '5000 header objects');
});

// keptHeaders gives its last list again to an answer whose walk matches what that list was made
// from. Answers that nearly match (a value, a name, a pair more or less, another order, a value that
// turns into an array or back, an inherited name, another rule) must still give their reference
// list, and an equal answer the very same list.
t.test('keptHeaders reuses its last list only for an answer that builds the same one', async (t) => {
  const keep = (n: string) => n === 'content-type' || n.startsWith('x-aptos-');
  const reference = (h: Record<string, string | string[] | undefined>, rule = keep) =>
    Object.entries(h).filter((e): e is [string, string] => typeof e[1] === 'string' && rule(e[0])).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const answer = (v: string): Record<string, string | string[] | undefined> => ({ 'content-type': 'application/json', 'x-aptos-ledger-version': v, 'x-aptos-chain-id': '1', date: 'd', connection: 'keep-alive' });
  const variants: Array<Record<string, string | string[] | undefined>> = [
    answer('9'),
    answer('9'),
    answer('10'),
    { ...answer('10'), date: 'e' },
    { ...answer('10'), 'x-aptos-epoch': '1' },
    answer('10'),
    { 'x-aptos-chain-id': '1', 'content-type': 'application/json', 'x-aptos-ledger-version': '10', date: 'd', connection: 'keep-alive' },
    { ...answer('10'), 'x-aptos-chain-id': ['1', '1'] },
    { ...answer('10'), 'x-aptos-chain-id': ['1', '1'] },
    answer('10'),
    { ...answer('10'), 'x-aptos-chain-id': undefined },
    answer('10'),
    { 'content-type': 'application/json', 'x-aptos-ledger-version': '10', 'x-aptos-chain-id': '1', date: 'd' },
    { 'content-type': 'application/json', 'x-aptos-ledger-version': '10', 'x-aptos-chain-id': '1', date: 'd', connection: 'keep-alive', via: 'x' },
    {},
    answer('10'),
  ];
  for (const [i, h] of variants.entries()) t.same(keptHeaders(h, keep), reference(h), `answer ${i}: the reference list`);
  const inherited = Object.assign(Object.create({ 'x-aptos-chain-id': '1' }) as Record<string, string>, { 'content-type': 'application/json', 'x-aptos-ledger-version': '10' });
  t.same(keptHeaders(inherited, keep), [['content-type', 'application/json'], ['x-aptos-ledger-version', '10']], 'an inherited name is not kept');
  const other = (n: string) => n === 'date';
  t.same(keptHeaders(answer('10'), other), [['date', 'd']], 'another rule: its own list');
  const first = keptHeaders(answer('11'), keep);
  t.equal(keptHeaders(answer('11'), keep), first, 'an equal answer: the same list, nothing built');
  t.not(keptHeaders(answer('12'), keep), first);
});
