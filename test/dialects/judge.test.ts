// Judging whole upstream answers: garbage is a failing node, "no such block" on a pinned call is a
// node that lacks the version; everything else is an answer.
import t from 'tap';
import { aptosRest } from '../../src/dialects/aptos-rest.js';
import { rpcJudge } from '../../src/dialects/rpc-judge.js';

const json = { 'content-type': 'application/json' };

t.test('aptos: garbage JSON is bad; a 404 above the node head lacks the version', async (t) => {
  t.equal(aptosRest.judge({ status: 200, headers: json, body: Buffer.from('{"a":1}') }, [5n]), 'ok');
  t.equal(aptosRest.judge({ status: 200, headers: json, body: Buffer.from('<html>oops') }, [undefined]), 'bad');
  t.equal(aptosRest.judge({ status: 200, headers: { 'content-type': 'application/x-bcs' }, body: Buffer.from([1, 2]) }, [5n]), 'ok', 'BCS is not JSON');
  const behind = { ...json, 'x-aptos-ledger-version': '90' };
  t.equal(aptosRest.judge({ status: 404, headers: behind, body: Buffer.from('{}') }, [100n]), 'lacks-version');
  t.equal(aptosRest.judge({ status: 404, headers: behind, body: Buffer.from('{}') }, [80n]), 'ok', 'a real 404 at a version the node has');
  t.equal(aptosRest.judge({ status: 404, headers: behind, body: Buffer.from('{}') }, [undefined]), 'ok');
});

t.test('json-rpc: not JSON-RPC is bad; missing state or null on a pinned call lacks the version', async (t) => {
  const answer = (body: string) => ({ status: 200, headers: json, body: Buffer.from(body) });
  t.equal(rpcJudge(answer('not json'), [undefined]), 'bad');
  t.equal(rpcJudge(answer('{"jsonrpc":"2.0","id":0,"result":"0x1"}'), [7n]), 'ok');
  t.equal(rpcJudge(answer('{"jsonrpc":"2.0","id":0,"error":{"code":-32000,"message":"header not found"}}'), [7n]), 'lacks-version');
  t.equal(rpcJudge(answer('{"jsonrpc":"2.0","id":0,"error":{"code":-32000,"message":"missing trie node abc"}}'), [undefined]), 'ok', 'unpinned: an answer');
  t.equal(rpcJudge(answer('[{"jsonrpc":"2.0","id":0,"result":"0x1"},{"jsonrpc":"2.0","id":1,"result":null}]'), [undefined, 9n]), 'lacks-version');
  t.equal(rpcJudge(answer('[{"jsonrpc":"2.0","id":0,"result":null},{"jsonrpc":"2.0","id":1,"result":"0x2"}]'), [undefined, 9n]), 'ok', 'null on an unpinned call');
  t.equal(rpcJudge({ status: 503, headers: json, body: Buffer.from('busy') }, [1n]), 'ok', 'statuses are judged elsewhere');
});
