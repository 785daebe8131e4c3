// `{blockHash: H, requireCanonical: true}` (EIP-1898) is not immutable while H may still reorg:
// once H leaves the canonical chain the node answers an error, and so must the proxy.
// ganache 7 rejects EIP-1898 objects ("Cannot wrap a "object" as a json-rpc type"), so the reorg
// is made on the geth-like mock node (test/support/jsonrpc-node.ts: reorg(depth) forks the tip).
import t from 'tap';
import { request } from '../support/http-client.js';
import { startJsonRpcNode } from '../support/jsonrpc-node.js';
import { startTestProxy } from '../support/proxy-harness.js';

const ADDR = '0x00000000000000000000000000000000000000aa';

t.test('a requireCanonical read by hash follows the node across a reorg', async (t) => {
  const node = await startJsonRpcNode({ flavor: 'evm', head: 100 });
  t.teardown(() => node.close());
  const proxy = await startTestProxy(`
upstreams:
  evm: { dialect: evm-jsonrpc, primary: ${node.url} }
routes:
  - match: { pathPrefix: / }
    upstream: evm
`);
  t.teardown(() => proxy.close());
  const both = async (params: unknown[]) => {
    const body = { jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params };
    const p = await request(proxy.url, { method: 'POST', body });
    const n = await request(node.url, { method: 'POST', body });
    const parse = (b: Buffer) => JSON.parse(b.toString('utf8')) as Record<string, unknown>;
    return { proxy: parse(p.body), node: parse(n.body), xCache: p.header('x-cache') };
  };
  const h = node.blockHashAt(100);
  const canonical = [ADDR, { blockHash: h, requireCanonical: true }];
  const before = await both(canonical);
  t.same(before.proxy, before.node, 'while H is canonical: the node\'s answer');
  t.type(before.proxy.result, 'string');
  t.not((await both(canonical)).xCache, 'HIT', 'not stored while H may still reorg');
  node.reorg(1);
  t.not(node.blockHashAt(100), h, 'H was reorged out');
  const after = await both(canonical);
  t.ok(after.node.error !== undefined, 'the node now answers an error for H');
  t.same(after.proxy.error, after.node.error, 'and so does the proxy (no cached answer for a block off the chain)');
  const plain = await both([ADDR, { blockHash: node.blockHashAt(100) }]);
  t.same(plain.proxy, plain.node, 'a plain by-hash read is still answered (and cached: a hash names one block)');
});
