// Read-your-writes through the proxy in front of a real EVM node (ganache, automine), with real
// clients: deploy → receipt → read at latest; write → receipt → read; transfer → getBalance. The
// race (the receipt names block N while the proxy's head snapshot is still N-1) shows in some runs
// only, so every flow runs 20 times. Each read is compared with the node's direct answer.
import t from 'tap';
import { createPublicClient, createWalletClient, defineChain, http as viemHttp, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ContractFactory, Contract, JsonRpcProvider, Wallet } from 'ethers';
import { GANACHE_CHAIN_ID, GANACHE_KEYS, startGanache } from '../support/ganache-node.js';
import { request } from '../support/http-client.js';
import { startTestProxy } from '../support/proxy-harness.js';

/**
 * A compile-free contract. Runtime: with 36 bytes of calldata (`set(uint256)`) it stores the word
 * at offset 4 in slot 0; with anything else (`value()`) it returns slot 0. The constructor stores 42.
 */
const RUNTIME = '3660241460125760005460005260206000f35b60043560005500';
const INITCODE = `0x602a60005560198060106000396000f3${RUNTIME}` as Hex;
const ABI = [
  { type: 'function', name: 'value', inputs: [], outputs: [{ name: '', type: 'uint256' }], stateMutability: 'view' },
  { type: 'function', name: 'set', inputs: [{ name: 'v', type: 'uint256' }], outputs: [], stateMutability: 'nonpayable' },
] as const;
const ROUNDS = 20;

const node = await startGanache();
t.teardown(() => node.close());
// A slow head poll: only the floor (and the write-triggered polls) can make the proxy see new blocks in time.
const proxy = await startTestProxy(`
upstreams:
  evm:
    dialect: evm-jsonrpc
    primary: ${node.url}
    head: { pollIntervalMs: 60000 }
routes:
  - name: nocache
    match: { pathPrefix: /nocache }
    upstream: evm
    cache: { enabled: false }
  - match: { pathPrefix: / }
    upstream: evm
`);
t.teardown(() => proxy.close());

const chain = defineChain({
  id: GANACHE_CHAIN_ID,
  name: 'ganache',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [node.url] } },
});
const direct = createPublicClient({ chain, cacheTime: 0, transport: viemHttp(node.url, { retryCount: 0 }) });

for (const batch of [false, true]) {
  t.test(`viem (batch transport ${batch ? 'on' : 'off'}): every read after a receipt sees the write`, async (t) => {
    const transport = viemHttp(proxy.url, { batch, retryCount: 0 });
    const client = createPublicClient({ chain, cacheTime: 0, pollingInterval: 20, transport });
    const account = privateKeyToAccount(GANACHE_KEYS[batch ? 1 : 0]);
    const wallet = createWalletClient({ account, chain, cacheTime: 0, pollingInterval: 20, transport });
    const other = privateKeyToAccount(GANACHE_KEYS[3]).address;
    let failures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const deployHash = await wallet.deployContract({ abi: ABI, bytecode: INITCODE });
      const deployed = await client.waitForTransactionReceipt({ hash: deployHash, pollingInterval: 20 });
      const address = deployed.contractAddress!;
      const afterDeploy = await client.readContract({ address, abi: ABI, functionName: 'value' });
      if (afterDeploy !== 42n) failures++;
      t.equal(afterDeploy, await direct.readContract({ address, abi: ABI, functionName: 'value' }), `round ${round}: deploy → receipt → value() equals the node`);

      const setHash = await wallet.writeContract({ address, abi: ABI, functionName: 'set', args: [BigInt(round + 7)] });
      await client.waitForTransactionReceipt({ hash: setHash, pollingInterval: 20 });
      const afterSet = await client.readContract({ address, abi: ABI, functionName: 'value' });
      if (afterSet !== BigInt(round + 7)) failures++;

      const sendHash = await wallet.sendTransaction({ to: other, value: 1000n + BigInt(round) });
      await client.waitForTransactionReceipt({ hash: sendHash, pollingInterval: 20 });
      const balance = await client.getBalance({ address: other });
      const want = await direct.getBalance({ address: other });
      if (balance !== want) failures++;
    }
    t.equal(failures, 0, `${ROUNDS} rounds of deploy/set/transfer: every read through the proxy saw its write`);
  });
}

t.test('ethers v6: deploy → wait → call, set → wait → call, transfer → getBalance', async (t) => {
  const provider = new JsonRpcProvider(proxy.url, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 20 });
  const directProvider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  t.teardown(() => { provider.destroy(); directProvider.destroy(); });
  const wallet = new Wallet(GANACHE_KEYS[2], provider);
  const other = new Wallet(GANACHE_KEYS[3]).address;
  const mismatches: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const factory = new ContractFactory(ABI, INITCODE, wallet);
    const deployed = await factory.deploy();
    await deployed.waitForDeployment();
    const address = await deployed.getAddress();
    const c = new Contract(address, ABI, provider);
    const viaProxy = (await c.getFunction('value')()) as bigint;
    const atNode = (await new Contract(address, ABI, directProvider).getFunction('value')()) as bigint;
    if (viaProxy !== atNode || viaProxy !== 42n) mismatches.push(`round ${round} deploy: ${viaProxy} vs ${atNode}`);

    const tx = await new Contract(address, ABI, wallet).getFunction('set')(BigInt(round + 100));
    await tx.wait();
    const afterSet = (await c.getFunction('value')()) as bigint;
    if (afterSet !== BigInt(round + 100)) mismatches.push(`round ${round} set: ${afterSet}`);

    const send = await wallet.sendTransaction({ to: other, value: 5n });
    await send.wait();
    const [got, want] = [await provider.getBalance(other), await directProvider.getBalance(other)];
    if (got !== want) mismatches.push(`round ${round} balance: ${got} vs ${want}`);
  }
  t.same(mismatches, [], `${ROUNDS} rounds: every read equals the node's`);
});

/** One JSON-RPC call through the proxy: the result and the block the proxy says it answered for. */
async function viaProxy(path: string, method: string, params: unknown[]): Promise<{ result: unknown; servedFor: bigint | undefined }> {
  const res = await request(`${proxy.url}${path}`, { method: 'POST', body: { jsonrpc: '2.0', id: 1, method, params } });
  const header = res.header('x-ledgerproxy-version');
  const body = JSON.parse(res.body.toString('utf8')) as { result?: unknown };
  return { result: body.result, servedFor: typeof header === 'string' ? BigInt(header) : undefined };
}

t.test('the chain advanced at the node: once the proxy said eth_blockNumber = N, no latest read is for a block < N', async (t) => {
  const rich = privateKeyToAccount(GANACHE_KEYS[0]).address;
  const violations: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await node.mine(1 + (round % 3));
    // Any client, any route: here an uncached route shows the new head first.
    const { result } = await viaProxy('/nocache', 'eth_blockNumber', []);
    const shown = BigInt(result as string);
    const reads: Array<[string, unknown[]]> = [
      ['eth_getBalance', [rich, 'latest']],
      ['eth_getTransactionCount', [rich, 'latest']],
      ['eth_getCode', [rich, 'latest']],
      ['eth_call', [{ to: rich, data: '0x' }, 'latest']],
    ];
    for (const [method, params] of reads) {
      const { servedFor } = await viaProxy('/', method, params);
      if (servedFor === undefined || servedFor < shown) violations.push(`round ${round}: ${method} answered for ${servedFor} after eth_blockNumber ${shown}`);
    }
    const block = await viaProxy('/', 'eth_getBlockByNumber', ['latest', false]);
    const number = BigInt((block.result as { number: string }).number);
    if (number < shown) violations.push(`round ${round}: latest block ${number} after eth_blockNumber ${shown}`);
    const cachedHead = BigInt((await viaProxy('/', 'eth_blockNumber', [])).result as string);
    if (cachedHead < shown) violations.push(`round ${round}: eth_blockNumber went back from ${shown} to ${cachedHead}`);
  }
  t.same(violations, [], `${ROUNDS} rounds of blocks mined at the node`);
});
