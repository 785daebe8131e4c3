// neon-js (the Neo N3 SDK) through a real proxy in front of the Neo test node, doing what its users
// do: sign and send a transaction, wait for it, read at latest; read after the chain moved; read
// blocks; walk an iterator session. Every answer is compared with the node's direct answer through a
// second neon-js client. The races (a client shown block N while the proxy's snapshot is older)
// show in some runs only, so each flow runs 20 times, without sleeps.
import t from 'tap';
import { CONST, rpc, sc, tx, u, wallet } from '@cityofzion/neon-js';
import { NEO_ITERATOR_OPERATION, neoInvokeValue, startJsonRpcNode, type JsonRpcNodeHandle } from '../support/jsonrpc-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy, type TestProxy } from '../support/proxy-harness.js';
import type { TapTest } from '../support/tap-test.js';

type Client = InstanceType<typeof rpc.RPCClient>;
type Account = InstanceType<typeof wallet.Account>;
type Transaction = InstanceType<typeof tx.Transaction>;

const ROUNDS = 20;
const GAS = CONST.NATIVE_CONTRACT_HASH.GasToken;
/** Bounded waits: a loop that polls the way neon-js users do, never a sleep. */
const MAX_POLLS = 2000;

interface StackItem { type: string; value?: unknown; id?: string }
interface Invoked { state: string; stack: StackItem[]; session?: string }

function proxyYaml(node: JsonRpcNodeHandle, replicas: JsonRpcNodeHandle[] = []): string {
  // A slow head poll: only the read-your-writes floor and the write-triggered polls can make the
  // proxy see new blocks in time.
  return `
upstreams:
  neo:
    dialect: neo-jsonrpc
    primary: ${node.url}
    replicas: [${replicas.map((r) => r.url).join(', ')}]
    head: { pollIntervalMs: 60000 }
routes:
  - name: nocache
    match: { pathPrefix: /nocache }
    upstream: neo
    cache: { enabled: false }
  - match: { pathPrefix: / }
    upstream: neo
`;
}

async function setup(t: TapTest, replicaCount = 0): Promise<{ node: JsonRpcNodeHandle; replicas: JsonRpcNodeHandle[]; proxy: TestProxy; client: Client; direct: Client }> {
  const nodes = await Promise.all(Array.from({ length: replicaCount + 1 }, () => startJsonRpcNode({ flavor: 'neo' })));
  t.teardown(() => Promise.all(nodes.map((n) => n.close())));
  const [node, ...replicas] = nodes as [JsonRpcNodeHandle, ...JsonRpcNodeHandle[]];
  const proxy = await startTestProxy(proxyYaml(node, replicas));
  t.teardown(() => proxy.close());
  return { node, replicas, proxy, client: new rpc.RPCClient(proxy.url), direct: new rpc.RPCClient(node.url) };
}

/** The integer an invoke answered (the test node's value is a function of the block count). */
function integerOf(r: Invoked): string {
  const item = r.stack[0];
  if (item?.type !== 'Integer' || typeof item.value !== 'string') throw new Error(`not an Integer stack: ${JSON.stringify(r.stack)}`);
  return item.value;
}

/** The block count a balanceOf invoke was computed at, searched over [lo, hi]; undefined if none. */
function countOfInvoke(value: string, account: string, lo: number, hi: number): number | undefined {
  const params = [sc.ContractParam.hash160(account).toJson()];
  for (let c = lo; c <= hi; c++) if (neoInvokeValue(GAS, 'balanceOf', params, c) === value) return c;
  return undefined;
}

const balanceOf = (client: Client, account: string): Promise<Invoked> =>
  client.invokeFunction(GAS, 'balanceOf', [sc.ContractParam.hash160(account)]) as Promise<Invoked>;

/** A signed GAS transfer, built the way a neon-js wallet builds one. */
function signedTransfer(from: Account, to: string, amount: number, validUntilBlock: number, magic: number, nonce: number): Transaction {
  const script = sc.createScript({
    scriptHash: GAS,
    operation: 'transfer',
    args: [sc.ContractParam.hash160(from.address), sc.ContractParam.hash160(to), sc.ContractParam.integer(amount), sc.ContractParam.any(null)],
  });
  const transaction = new tx.Transaction({
    signers: [{ account: from.scriptHash, scopes: tx.WitnessScope.CalledByEntry }],
    validUntilBlock,
    script,
    nonce,
    systemFee: u.BigInteger.fromNumber(997775),
    networkFee: u.BigInteger.fromNumber(1272390),
  });
  return transaction.sign(from, magic);
}

/** Waits for a sent transaction the ways neon-js users do; returns the count at which it was seen mined (when known). */
async function waitMined(client: Client, hash: string, how: 'rawtransaction' | 'applicationlog' | 'transactionheight' | 'blockcount', sentAtCount: number): Promise<void> {
  for (let i = 0; i < MAX_POLLS; i++) {
    try {
      if (how === 'rawtransaction') {
        const found = (await client.getRawTransaction(hash, true)) as { blockhash?: string };
        if (found.blockhash !== undefined) return;
      } else if (how === 'applicationlog') {
        await client.getApplicationLog(hash);
        return;
      } else if (how === 'transactionheight') {
        await client.getTransactionHeight(hash);
        return;
      } else if ((await client.getBlockCount()) > sentAtCount) {
        return;
      }
    } catch (e) {
      if (!(e instanceof rpc.RpcError)) throw e; // "unknown transaction" until it is mined
    }
  }
  throw new Error(`transaction ${hash} not seen mined (${how}) after ${MAX_POLLS} polls`);
}

t.test('send → wait (getrawtransaction / getapplicationlog / gettransactionheight / getblockcount) → invokefunction at latest sees the block', async (t) => {
  const { node, client, direct } = await setup(t);
  const version = (await client.getVersion()) as { protocol: { network: number } };
  t.equal(version.protocol.network, node.chainId, 'getversion names the network magic');
  const ways = ['rawtransaction', 'applicationlog', 'transactionheight', 'blockcount'] as const;
  const sender = new wallet.Account();
  let stale = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const how = ways[round % ways.length]!;
    const account = new wallet.Account().address;
    // A latest read before the write: its entry is keyed by the head the proxy knows now.
    const before = await balanceOf(client, account);
    t.same(before, await balanceOf(direct, account), `round ${round}: latest read before the write equals the node`);
    const count = await client.getBlockCount();
    const transfer = signedTransfer(sender, account, round + 1, count + 100, version.protocol.network, round);
    const hash = await client.sendRawTransaction(transfer);
    t.equal(hash, `0x${transfer.hash()}`, `round ${round}: the node names the transaction by the hash neon-js computed`);
    t.equal((await direct.getRawTransaction(hash, true) as { hash: string }).hash, hash, `round ${round}: the node has the transaction`);
    node.advance(); // mined at the node, not through the proxy
    const minedAt = node.sent.get(hash)?.blockNumber;
    t.equal(minedAt, node.head, `round ${round}: mined in the new block`);
    await waitMined(client, hash, how, count);

    const after = await balanceOf(client, account);
    const want = await balanceOf(direct, account);
    const at = countOfInvoke(integerOf(after), account, 0, node.head + 1);
    if (at === undefined || at < minedAt! + 1) stale++;
    t.same(after, want, `round ${round} (${how}): invokefunction after the wait equals the node (block count ${at}, tx in block ${minedAt})`);
  }
  t.equal(stale, 0, `${ROUNDS} rounds: no invoke after a mined transaction was computed before its block`);
});

t.test('chain advanced at the node: once the proxy said getblockcount = N, no latest read is for a count < N', async (t) => {
  const { node, proxy } = await setup(t);
  const reader = new rpc.RPCClient(proxy.url);
  const watcher = new rpc.RPCClient(`${proxy.url}/nocache`);
  const direct = new rpc.RPCClient(node.url);
  const account = new wallet.Account().address;
  let below = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Warm the latest entries at the current head, then move the chain behind the proxy's back.
    await balanceOf(reader, account);
    await reader.getNep17Balances(account);
    node.advance(1 + (round % 3));
    // Another client learns the new count through the proxy (an uncached route reaches the node).
    const shown = await watcher.getBlockCount();
    t.equal(shown, node.head + 1, `round ${round}: the proxy passed on the node's count`);

    const count = await reader.getBlockCount();
    if (count < shown) below++;
    t.equal(count, await direct.getBlockCount(), `round ${round}: getblockcount through the proxy equals the node`);

    const invoked = await balanceOf(reader, account);
    const at = countOfInvoke(integerOf(invoked), account, 0, node.head + 1);
    if (at === undefined || at < shown) below++;
    t.same(invoked, await balanceOf(direct, account), `round ${round}: invokefunction equals the node (count ${at} ≥ ${shown})`);

    const balances = (await reader.getNep17Balances(account)) as { balance: Array<{ lastupdatedblock: number }> };
    const gasUpdated = balances.balance[1]?.lastupdatedblock ?? -1;
    if (gasUpdated + 1 < shown) below++;
    t.same(balances, await direct.getNep17Balances(account), `round ${round}: getnep17balances equals the node`);
  }
  t.equal(below, 0, `${ROUNDS} rounds: no latest read answered for a count below one already shown`);
});

t.test('getblock by index and by hash, verbose and not, equals the node', async (t) => {
  const { node, proxy, direct } = await setup(t);
  const client = new rpc.RPCClient(proxy.url);
  const watcher = new rpc.RPCClient(`${proxy.url}/nocache`);
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 4 === 3) {
      node.advance();
      await watcher.getBlockCount(); // the proxy has now shown the new count
    }
    const height = (await client.getBlockCount()) - 1;
    // The head block (no nextblockhash yet), the one below it (it has one now), and an old block.
    for (const index of [height, height - 1, round * 37]) {
      const hash = await client.getBlockHash(index);
      t.equal(hash, await direct.getBlockHash(index), `round ${round}: getblockhash ${index}`);
      for (const ref of [index, hash]) {
        const viaProxy = await client.getBlock(ref, true);
        t.same(viaProxy, await direct.getBlock(ref, true), `round ${round}: verbose getblock ${ref}`);
        t.equal(await client.getBlock(ref, false), await direct.getBlock(ref, false), `round ${round}: raw getblock ${ref}`);
      }
      t.same(await client.getBlockHeader(index, 1), await direct.getBlockHeader(index, 1), `round ${round}: verbose getblockheader ${index}`);
    }
  }
});

t.test('an iterator session through the proxy with two replicas: traverseiterator reaches the node that opened it', async (t) => {
  const { node, replicas, proxy, direct } = await setup(t, 2);
  const client = new rpc.RPCClient(proxy.url);
  const expected = async (): Promise<unknown[]> => {
    const opened = (await direct.invokeFunction(GAS, NEO_ITERATOR_OPERATION, [])) as Invoked;
    const items = await direct.traverseIterator(opened.session!, opened.stack[0]!.id!, 10);
    await direct.execute(new rpc.Query({ method: 'terminatesession', params: [opened.session!] }));
    return items;
  };
  const sessions = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    const opened = (await client.invokeFunction(GAS, NEO_ITERATOR_OPERATION, [])) as Invoked;
    t.ok(opened.session, `round ${round}: the invoke opened a session`);
    sessions.add(opened.session!);
    const iterator = opened.stack[0]!.id!;
    const first = await client.traverseIterator(opened.session!, iterator, 3);
    const rest = await client.traverseIterator(opened.session!, iterator, 10);
    t.same([...first, ...rest], await expected(), `round ${round}: the session's items equal a direct session's`);
    t.equal(await client.execute(new rpc.Query({ method: 'terminatesession', params: [opened.session!] })), true, `round ${round}: terminated on its node`);
  }
  t.equal(sessions.size, ROUNDS, 'every invoke opened its own session (never coalesced or cached)');
  const traversed = replicas.map((r) => r.calls.byMethod.get('traverseiterator') ?? 0);
  t.equal(traversed.reduce((a, b) => a + b, 0), 2 * ROUNDS, 'every traverseiterator went to a replica that opened a session');
  t.ok(traversed.every((n) => n > 0), 'sessions were opened on both replicas');
  t.equal(node.calls.byMethod.get('traverseiterator') ?? 0, ROUNDS, 'the primary only saw the direct client');
});

t.test('the head poll a mined-without-height answer costs: one per fresh answer, none for a mempool answer or a hit', async (t) => {
  const { node, proxy, direct } = await setup(t);
  const ask = async (method: string, params: unknown[], path = '/') => {
    const res = await request(`${proxy.url}${path}`, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method, params } });
    return { cache: res.header('x-cache'), body: res.json<{ result?: { blockhash?: string }; error?: unknown }>() };
  };
  const polls = () => node.calls.byMethod.get('getblockcount') ?? 0;
  // Sent at the node directly: no write through the proxy, so no write-triggered poll burst.
  const hash = await direct.sendRawTransaction(Buffer.from('a transaction sent elsewhere').toString('base64'));
  node.resetCalls();
  // Uncached: a mempool answer is a head read, stored under the head the proxy knows.
  const pooled = await ask('getrawtransaction', [hash, 1], '/nocache');
  t.equal(pooled.body.result?.blockhash, undefined, 'in the mempool');
  t.equal(polls(), 0, 'a mempool answer asks for no head');

  node.advance();
  const mined = await ask('getrawtransaction', [hash, 1]);
  t.equal(mined.cache, 'MISS');
  t.equal(mined.body.result?.blockhash, node.blockHashAt(node.head), 'mined in the new block');
  t.equal(polls(), 1, 'one head poll of the answering node before the reply');
  t.equal(proxy.state.runtime.groups.get('neo')?.floor.value, BigInt(node.head), 'the floor is the head that node reported');

  const log = await ask('getapplicationlog', [hash]);
  t.equal(log.body.error, undefined);
  t.equal(polls(), 2, 'a found application log asks once too');
  // The first answer was stored under the old head; the head moved: a new key, asked once more.
  t.equal((await ask('getrawtransaction', [hash, 1])).cache, 'MISS');
  t.equal(polls(), 3);
  t.equal((await ask('getrawtransaction', [hash, 1])).cache, 'HIT', 'keyed by the new head');
  t.equal((await ask('getapplicationlog', [hash])).cache, 'HIT', 'a found log never changes');
  t.equal(polls(), 3, 'hits ask nothing (the floor already rose when they were filled)');
});
