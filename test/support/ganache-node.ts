/**
 * A real EVM node for end-to-end tests: ganache 7 in-process on 127.0.0.1 (port 0), deterministic
 * wallet, chain id 1337, instamine (every transaction is mined in its own block as it arrives;
 * `miner_stop` / `evm_mine` / `miner_start` to hold transactions in the pool).
 *
 * And a counting forwarder: a real `node:http` server that forwards every request to a target URL
 * unchanged and counts the JSON-RPC calls it carried, per method, each element of a batch counted
 * on its own. Put it between the proxy and the node to see exactly what reached the node.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import ganache from 'ganache';
import { request as undiciRequest } from 'undici';

/** Private keys of ganache's deterministic wallet (`myth like bonus scare ...`), accounts 0..3. */
export const GANACHE_KEYS = [
  '0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d',
  '0x6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1',
  '0x6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c',
  '0x646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913',
] as const;

export const GANACHE_CHAIN_ID = 1337;

export interface GanacheNode {
  url: string;
  /** One JSON-RPC call straight to the node; throws on a JSON-RPC error. */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** Mines `n` empty blocks (or with whatever sits in the pool); resolves to the new head. */
  mine(n?: number): Promise<bigint>;
  blockNumber(): Promise<bigint>;
  close(): Promise<void>;
}

export async function startGanache(): Promise<GanacheNode> {
  const server = ganache.server({
    logging: { quiet: true },
    wallet: { deterministic: true },
    chain: { chainId: GANACHE_CHAIN_ID },
    miner: { blockTime: 0 },
  });
  await server.listen(0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let id = 1;
  const rpc = async <T,>(method: string, params: unknown[] = []): Promise<T> => {
    const res = await undiciRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: id++, method, params }),
    });
    const body = (await res.body.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  };
  const blockNumber = async (): Promise<bigint> => BigInt(await rpc<string>('eth_blockNumber'));
  return {
    url,
    rpc,
    blockNumber,
    async mine(n = 1) {
      for (let i = 0; i < n; i++) await rpc('evm_mine');
      return blockNumber();
    },
    close: () => server.close(),
  };
}

export interface ForwardedCall {
  method: string;
  params: unknown;
  /** A head poll of the proxy (its `x-request-id` starts with `probe-`). */
  poll: boolean;
  /** How many calls the HTTP request that carried this call held (1: a lone object). */
  batchSize: number;
}

export interface CountingForwarder {
  url: string;
  /** Every call that went through, in order. */
  readonly log: ForwardedCall[];
  /** HTTP requests forwarded (head polls included). */
  readonly httpRequests: number;
  /** Calls by method, head polls excluded. */
  byMethod(): Map<string, number>;
  /** Calls, head polls excluded. */
  total(): number;
  /** Head polls. */
  polls(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingForwarder(target: string): Promise<CountingForwarder> {
  const log: ForwardedCall[] = [];
  let httpRequests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      httpRequests += 1;
      const poll = String(req.headers['x-request-id'] ?? '').startsWith('probe-');
      try {
        const doc: unknown = JSON.parse(body.toString('utf8'));
        const calls = Array.isArray(doc) ? doc : [doc];
        for (const c of calls) {
          const o = (typeof c === 'object' && c !== null ? c : {}) as { method?: unknown; params?: unknown };
          log.push({ method: String(o.method), params: o.params, poll, batchSize: calls.length });
        }
      } catch {
        log.push({ method: '(unparsable)', params: undefined, poll, batchSize: 1 });
      }
      undiciRequest(target, {
        method: (req.method ?? 'POST') as 'POST',
        headers: { 'content-type': String(req.headers['content-type'] ?? 'application/json') },
        body,
      })
        .then(async (up) => {
          const answer = Buffer.from(await up.body.arrayBuffer());
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json'), 'content-length': answer.length });
          res.end(answer);
        })
        .catch((err: unknown) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(String(err));
        });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const counted = (): ForwardedCall[] => log.filter((c) => !c.poll);
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    get httpRequests() {
      return httpRequests;
    },
    byMethod() {
      const m = new Map<string, number>();
      for (const c of counted()) m.set(c.method, (m.get(c.method) ?? 0) + 1);
      return m;
    },
    total: () => counted().length,
    polls: () => log.filter((c) => c.poll).length,
    reset() {
      log.length = 0;
      httpRequests = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
