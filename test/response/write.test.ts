import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { identityEntry } from '../../src/cache/policy.js';
import type { CacheEntry } from '../../src/cache/types.js';
import { dialectFor } from '../../src/dialects/index.js';
import type { Call } from '../../src/dialects/types.js';
import { InvalidParamsError, UpstreamTimeoutError, UpstreamUnavailableError } from '../../src/errors.js';
import type { CallResult } from '../../src/runtime/types.js';
import { compressSegment } from '../../src/response/gzip-splice.js';
import { writeEntry, writeRpc, type WriteOptions } from '../../src/response/write.js';
import { request } from '../support/http-client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real server; each test installs what its handler writes. */
async function server(t: Test) {
  let handler: Handler = (_req, res) => res.end();
  const srv = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    srv.closeAllConnections();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
  return {
    url,
    handle(h: Handler) {
      handler = h;
    },
  };
}

const opts = (o: Partial<WriteOptions> = {}): WriteOptions => ({ gzip: false, headOnly: false, requestId: 'req-1', xCache: 'HIT', ...o });

/** JSON-ish text big and repetitive enough that compressSegment keeps the compressed form. */
function bigJson(n: number): string {
  const items = Array.from({ length: n }, (_, i) => `{"index":${i},"address":"0x${'ab'.repeat(16)}","value":"${i * 1000}"}`);
  return `[${items.join(',')}]`;
}

function storedEntry(body: string, compress: boolean, headers: Array<[string, string]> = [['content-type', 'application/json']]): CacheEntry {
  const raw = Buffer.from(body);
  const base = identityEntry(200, headers, raw, Date.now());
  if (!compress) return base;
  const seg = compressSegment(raw, { level: 6, minBytes: 0, minSavings: 0.1 });
  if (!seg.compressed) throw new Error('test body does not compress');
  return { ...base, ...seg };
}

function rpcCalls(body: string): Call[] {
  const parsed = dialectFor('evm-jsonrpc').parse(
    { method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from(body) },
    { maxJsonDepth: 64, maxBatchLength: 100 },
  );
  if (parsed.kind !== 'jsonrpc') throw new Error('expected JSON-RPC');
  return parsed.calls;
}

const hit = (entry: CacheEntry): CallResult => ({ cache: 'hit', answer: { entry } });

t.test('writeEntry: identity entry to a client without gzip', async (t) => {
  const { url, handle } = await server(t);
  const entry = storedEntry('{"ok":true}', false, [['content-type', 'application/json'], ['x-aptos-ledger-version', '7']]);
  handle((_req, res) => writeEntry(res, entry, opts()));
  const res = await request(url);
  t.equal(res.status, 200);
  t.equal(res.text(), '{"ok":true}');
  t.equal(res.header('content-type'), 'application/json');
  t.equal(res.header('x-aptos-ledger-version'), '7', 'stored headers are sent');
  t.equal(res.header('x-cache'), 'HIT');
  t.equal(res.header('x-request-id'), 'req-1');
  t.equal(res.header('content-length'), String(res.body.length));
  t.equal(res.header('content-encoding'), undefined);
  t.equal(res.header('vary'), undefined, 'an identity entry does not vary');
});

t.test('writeEntry: an identity entry stays identity even for a gzip client', async (t) => {
  const { url, handle } = await server(t);
  const entry = storedEntry('short', false);
  handle((_req, res) => writeEntry(res, entry, opts({ gzip: true })));
  const res = await request(url);
  t.equal(res.header('content-encoding'), undefined);
  t.equal(res.text(), 'short');
});

t.test('writeEntry: a compressed entry is gzip for gzip clients and identity for others, same bytes', async (t) => {
  const { url, handle } = await server(t);
  const text = bigJson(200);
  const entry = storedEntry(text, true);
  handle((req, res) => writeEntry(res, entry, opts({ gzip: req.headers['accept-encoding'] === 'gzip', xCache: 'MISS' })));
  const gz = await request(url, { headers: { 'accept-encoding': 'gzip' } });
  const plain = await request(url);
  t.equal(gz.status, 200);
  t.equal(gz.header('content-encoding'), 'gzip');
  t.equal(gz.header('vary'), 'accept-encoding');
  t.equal(gz.header('content-length'), String(gz.body.length));
  t.ok(gz.body.length < text.length, 'sent compressed');
  t.equal(plain.header('content-encoding'), undefined);
  t.equal(plain.header('vary'), 'accept-encoding', 'identity answer of a compressed entry varies too');
  t.equal(plain.text(), text, 'identity body is the original text');
  t.equal(gunzipSync(gz.body).toString(), plain.text(), 'gunzip(gzip answer) equals the identity answer');
});

t.test('writeEntry: one entry served many times keeps each answer its own (no per-request leaks)', async (t) => {
  const { url, handle } = await server(t);
  const text = bigJson(3_000); // > 64 KiB identity: several stored blocks
  const entry = storedEntry(text, true, [['content-type', 'application/json'], ['x-aptos-ledger-version', '9']]);
  handle((req, res) =>
    writeEntry(res, entry, {
      gzip: req.headers['accept-encoding'] === 'gzip',
      headOnly: req.method === 'HEAD',
      requestId: String(req.headers['x-test-id']),
      xCache: String(req.headers['x-test-cache']),
    }),
  );
  const plan: Array<[string, boolean]> = [['GET', false], ['GET', true], ['HEAD', true], ['GET', false], ['GET', true], ['HEAD', false]];
  let i = 0;
  for (const [method, gzip] of plan) {
    i++;
    const headers: Record<string, string> = { 'x-test-id': `id-${i}`, 'x-test-cache': i % 2 ? 'HIT' : 'COALESCED' };
    if (gzip) headers['accept-encoding'] = 'gzip';
    const res = await request(url, { method, headers });
    const label = `#${i} ${method} gzip=${gzip}`;
    t.equal(res.header('x-request-id'), `id-${i}`, `${label}: own request id`);
    t.equal(res.header('x-cache'), headers['x-test-cache'], `${label}: own x-cache`);
    t.equal(res.header('content-encoding'), gzip ? 'gzip' : undefined, `${label}: encoding`);
    t.equal(res.header('x-aptos-ledger-version'), '9');
    t.same(res.headers['x-request-id'], `id-${i}`, `${label}: one x-request-id, not several`);
    if (method === 'HEAD') t.equal(res.body.length, 0, `${label}: no body`);
    else t.equal((gzip ? gunzipSync(res.body) : res.body).toString(), text, `${label}: body`);
  }
});

t.test('writeEntry: HEAD gets the headers and no body', async (t) => {
  const { url, handle } = await server(t);
  const entry = storedEntry('{"ok":true}', false);
  handle((_req, res) => writeEntry(res, entry, opts({ headOnly: true })));
  const res = await request(url, { method: 'HEAD' });
  t.equal(res.status, 200);
  t.equal(res.body.length, 0);
  t.equal(res.header('content-length'), String('{"ok":true}'.length), 'content-length of the GET answer');
  t.equal(res.header('content-type'), 'application/json');
});

t.test('writeEntry: keeps a non-200 entry status', async (t) => {
  const { url, handle } = await server(t);
  const entry = { ...storedEntry('{"message":"nope"}', false), status: 404 };
  handle((_req, res) => writeEntry(res, entry, opts()));
  const res = await request(url);
  t.equal(res.status, 404);
  t.equal(res.text(), '{"message":"nope"}');
});

t.test('writeEntry after the headers went out does nothing (and does not throw)', async (t) => {
  const { url, handle } = await server(t);
  let threw: unknown;
  handle((_req, res) => {
    res.writeHead(202, { 'content-type': 'text/plain' });
    try {
      writeEntry(res, storedEntry('ignored', false), opts());
    } catch (err) {
      threw = err;
    }
    res.end('first');
  });
  const res = await request(url);
  t.equal(threw, undefined);
  t.equal(res.status, 202);
  t.equal(res.text(), 'first');
});

t.test('writeRpc: a single call gets its own id around the stored result', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('{"jsonrpc":"2.0","id":"abc","method":"eth_chainId","params":[]}');
  const results = [hit(storedEntry('"0x1"', false))];
  let status = 0;
  handle((_req, res) => {
    status = writeRpc(res, { calls, results, batch: false }, opts());
  });
  const res = await request(url);
  t.equal(status, 200);
  t.equal(res.status, 200);
  t.equal(res.header('content-type'), 'application/json');
  t.equal(res.text(), '{"jsonrpc":"2.0","id":"abc","result":"0x1"}');
});

t.test('writeRpc: a batch keeps the client order and ids, errors in place, notifications left out', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls(
    '[{"jsonrpc":"2.0","id":3,"method":"eth_chainId"},' +
      '{"jsonrpc":"2.0","id":"x","method":"eth_getBalance","params":["0xaa","0x1"]},' +
      '{"jsonrpc":"2.0","method":"eth_chainId"},' +
      '{"jsonrpc":"1.0","id":null,"method":"eth_getBalance","params":["0xaa","0x1"]},' +
      '{"jsonrpc":"2.0","id":3,"method":"eth_blockNumber"},' +
      '{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[{},"0x1"]}]',
  );
  t.equal(calls.length, 6);
  const nodeError: CallResult = { cache: 'miss', answer: { entry: storedEntry('{"code":-32000,"message":"execution reverted"}', false), rpcError: true } };
  const results: CallResult[] = [
    hit(storedEntry('"0x1"', false)),
    { cache: 'coalesced', answer: { entry: storedEntry('"0xde0b6b3a7640000"', false) } },
    hit(storedEntry('"0x1"', false)),
    { cache: 'error', error: calls[3]?.reject ?? new InvalidParamsError('bad') },
    { cache: 'error', error: new UpstreamUnavailableError('node down') },
    nodeError,
  ];
  let status = 0;
  handle((_req, res) => {
    status = writeRpc(res, { calls, results, batch: true }, opts({ xCache: 'PARTIAL 3/6' }));
  });
  const res = await request(url);
  t.equal(status, 200, 'a batch is 200 even with failed elements');
  t.equal(res.status, 200);
  t.equal(res.header('x-cache'), 'PARTIAL 3/6');
  const body = res.json<Array<Record<string, unknown>>>();
  t.equal(body.length, 5, 'the notification has no answer');
  t.same(body.map((e) => e.id), [3, 'x', null, 3, 7], 'client order and ids, duplicates kept');
  t.same(body[0], { jsonrpc: '2.0', id: 3, result: '0x1' });
  t.same(body[1], { jsonrpc: '2.0', id: 'x', result: '0xde0b6b3a7640000' });
  t.same(body[2], { jsonrpc: '2.0', id: null, error: { code: -32600, message: (calls[3]?.reject as Error).message } });
  t.same(body[3], { jsonrpc: '2.0', id: 3, error: { code: -32603, message: 'node down' } });
  t.same(body[4], { jsonrpc: '2.0', id: 7, error: { code: -32000, message: 'execution reverted' } }, 'the node error object is passed on');
});

t.test('writeRpc: compressed results are spliced into one gzip; gunzip equals the identity answer', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('[{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1",true]},{"jsonrpc":"2.0","id":"two","method":"eth_chainId"},{"jsonrpc":"2.0","id":3,"method":"eth_getBlockByNumber","params":["0x2",true]}]');
  const big = bigJson(100);
  const results = [hit(storedEntry(big, true)), hit(storedEntry('"0x1"', false)), hit(storedEntry(big, true))];
  handle((req, res) => {
    writeRpc(res, { calls, results, batch: true }, opts({ gzip: req.headers['accept-encoding'] === 'gzip' }));
  });
  const gz = await request(url, { headers: { 'accept-encoding': 'gzip' } });
  const plain = await request(url);
  t.equal(gz.header('content-encoding'), 'gzip');
  t.equal(gz.header('vary'), 'accept-encoding');
  t.equal(plain.header('content-encoding'), undefined);
  const expected = `[{"jsonrpc":"2.0","id":1,"result":${big}},{"jsonrpc":"2.0","id":"two","result":"0x1"},{"jsonrpc":"2.0","id":3,"result":${big}}]`;
  t.equal(plain.text(), expected);
  t.equal(gunzipSync(gz.body).toString(), expected);
});

t.test('writeRpc: HEAD writes no body', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}');
  handle((_req, res) => writeRpc(res, { calls, results: [hit(storedEntry('"0x1"', false))], batch: false }, opts({ headOnly: true })));
  const res = await request(url, { method: 'HEAD' });
  t.equal(res.status, 200);
  t.equal(res.body.length, 0);
  t.equal(res.header('content-length'), String('{"jsonrpc":"2.0","id":1,"result":"0x1"}'.length));
});

t.test('writeRpc: a single notification is answered 204 with no body', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('{"jsonrpc":"2.0","method":"eth_chainId"}');
  let status = 0;
  handle((_req, res) => {
    status = writeRpc(res, { calls, results: [hit(storedEntry('"0x1"', false))], batch: false }, opts());
  });
  const res = await request(url);
  t.equal(status, 204);
  t.equal(res.status, 204);
  t.equal(res.body.length, 0);
});

t.test('writeRpc: a batch of notifications only is answered with nothing (JSON-RPC 2.0 §6: never an empty array)', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_blockNumber"}]');
  let status = 0;
  handle((_req, res) => {
    status = writeRpc(res, { calls, results: [hit(storedEntry('"0x1"', false)), hit(storedEntry('"0x2"', false))], batch: true }, opts());
  });
  const res = await request(url);
  t.equal(res.text(), '', 'no body, in particular not "[]"');
  t.equal(status, 204);
  t.equal(res.status, 204);
});

t.test('writeRpc: a single call that failed upstream keeps the HTTP status of the failure', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('{"jsonrpc":"2.0","id":9,"method":"eth_getBalance","params":["0xaa","0x1"]}');
  let status = 0;
  handle((_req, res) => {
    status = writeRpc(res, { calls, results: [{ cache: 'error', error: new UpstreamTimeoutError('too slow') }], batch: false }, opts());
  });
  const res = await request(url);
  t.equal(status, 504);
  t.equal(res.status, 504);
  t.same(res.json(), { jsonrpc: '2.0', id: 9, error: { code: -32603, message: 'too slow' } });
});

t.test('writeRpc: a single call rejected for bad params is a 200 with the error', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('{"jsonrpc":"2.0","id":9,"method":"eth_getBalance","params":["0xaa","0x1"]}');
  const reject = new InvalidParamsError('bad block');
  let status = 0;
  handle((_req, res) => {
    status = writeRpc(res, { calls, results: [{ cache: 'error', error: reject as InvalidParamsError }], batch: false }, opts());
  });
  const res = await request(url);
  t.equal(status, 200);
  t.equal(res.status, 200);
  t.equal(res.json<{ error: { code: number } }>().error.code, -32602);
});

t.test('writeRpc: a single failed call in a batch is still 200', async (t) => {
  const { url, handle } = await server(t);
  const calls = rpcCalls('[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]');
  let status = 0;
  handle((_req, res) => {
    status = writeRpc(res, { calls, results: [{ cache: 'error', error: new UpstreamUnavailableError('down') }], batch: true }, opts());
  });
  const res = await request(url);
  t.equal(status, 200);
  t.equal(res.status, 200);
  t.same(res.json(), [{ jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'down' } }]);
});

t.test('writeRpc: every id comes back as the text sent, short, long or not ASCII', async (t) => {
  const { url, handle } = await server(t);
  const ids = ['12', '"ascii"', '"é☃ 😀"', `"${'l'.repeat(40)}"`, `"${'ü'.repeat(30)}"`, '-1.5e3', '""'];
  const calls = rpcCalls(`[${ids.map((id) => `{"jsonrpc":"2.0","id":${id},"method":"eth_chainId"}`).join(',')}]`);
  const results: CallResult[] = ids.map(() => hit(storedEntry('"0x1"', false)));
  handle((_req, res) => {
    writeRpc(res, { calls, results, batch: true }, opts());
  });
  const res = await request(url);
  t.equal(res.text(), `[${ids.map((id) => `{"jsonrpc":"2.0","id":${id},"result":"0x1"}`).join(',')}]`);
});
