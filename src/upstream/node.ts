// One upstream node: its connection pool, its circuit breaker, the head it last reported and how
// fast it has been answering. Node names are roles (`primary`, `replica-0`, ...), never URLs, so
// metric labels stay bounded and credentials in URLs never reach a label or a log line.
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import { nodeHealthy, nodeHead } from '../metrics/metrics.js';
import { Breaker } from './breaker.js';

export type NodeRole = 'primary' | 'replica';

/** Weight of the newest sample in the latency average (about the last 10 answers). */
const EWMA_ALPHA = 0.2;

export class UpstreamNode {
  /** Buffered calls (parsed reads and writes). */
  readonly pool: Pool;
  /**
   * Pass-through traffic (streams, SSE, unknown paths, submits relayed unparsed): its own pool, so
   * long-lived streams cannot take the connections the cached path needs; owned and closed here.
   */
  readonly passPool: Pool;
  readonly origin: string;
  /**
   * Credentials from the node URL (`https://user:pass@host/...`) as `Authorization: Basic`, and
   * its query (`?apikey=...`), merged into every request to this node. Both are secrets: they
   * never appear in `origin`, a name, a metric label or a log line.
   */
  readonly credentials: { authorization?: string; query: string };
  /** Path prefix of the node URL (e.g. `/rpc` for `http://host/rpc`), prepended to every request path. */
  readonly basePath: string;
  readonly breaker: Breaker;
  /** Requests in flight on this node (for least-connections). */
  inflight = 0;
  /** Latest version / block height seen from this node. */
  head: bigint | undefined;
  /** When the head last moved forward (a node whose head stops moving is stuck). */
  headMovedAt = 0;
  /** Aptos: oldest version the node still has (pruning). */
  oldest: bigint | undefined;
  /** Exponentially weighted average answer time, ms (0 until the first answer). */
  latencyMs = 0;

  constructor(
    readonly group: string,
    readonly name: string,
    readonly role: NodeRole,
    url: string,
    config: UpstreamConfig,
  ) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.credentials = urlCredentials(parsed);
    const poolOptions = {
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: config.timeouts.connectMs },
      headersTimeout: config.timeouts.headersMs,
      bodyTimeout: config.timeouts.bodyMs,
    };
    this.pool = new Pool(this.origin, { ...poolOptions, connections: 128 });
    this.passPool = new Pool(this.origin, { ...poolOptions, connections: 256 });
    const h = config.health;
    this.breaker = new Breaker({ windowSize: h.windowSize, minSamples: h.minSamples, errorRate: h.errorRate, consecutiveFailures: h.ejectAfterFailures, openMs: h.openMs });
    nodeHealthy.set({ group, node: name }, 1);
  }

  /** In rotation (breaker not open)? */
  get healthy(): boolean {
    return this.breaker.state(Date.now()) !== 'open';
  }

  /**
   * The node's own answer to the head probe is authoritative, even when lower than before: after a
   * reorg to a shorter chain, or a node resynced or replaced, latest reads must not stay pinned to
   * a block the node no longer has.
   */
  setPolledHead(head: bigint, now: number): void {
    if (this.head !== undefined && head < this.head) {
      this.head = head;
      this.headMovedAt = now;
      nodeHead.set({ group: this.group, node: this.name }, Number(head));
      return;
    }
    this.noteHead(head, now);
  }

  /** A head seen in passing (response headers): answers can arrive out of order, so only forward. */
  noteHead(head: bigint, now: number): void {
    if (this.head === undefined || head > this.head) {
      this.head = head;
      this.headMovedAt = now;
      nodeHead.set({ group: this.group, node: this.name }, Number(head));
    }
  }

  noteLatency(ms: number): void {
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs + EWMA_ALPHA * (ms - this.latencyMs);
  }

  /** True when this node can answer a read pinned to `pin` (as far as the proxy knows). */
  hasVersion(pin: bigint): boolean {
    if (this.oldest !== undefined && pin < this.oldest) return false;
    return this.head === undefined || this.head >= pin;
  }

  /** The node URL's query merged with the client's (the node URL's parameters win). */
  withQuery(clientQuery: string): string {
    return mergeQuery(this.credentials.query, clientQuery);
  }

  async close(): Promise<void> {
    await Promise.all([
      this.pool.close().catch(() => this.pool.destroy()),
      this.passPool.close().catch(() => this.passPool.destroy()),
    ]);
  }
}

function urlCredentials(url: URL): { authorization?: string; query: string } {
  const query = url.search.replace(/^\?/, '');
  if (url.username === '' && url.password === '') return { query };
  const userinfo = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return { authorization: `Basic ${Buffer.from(userinfo).toString('base64')}`, query };
}

/**
 * `apikey=K` + `ledger_version=5&apikey=x` → `apikey=K&ledger_version=5`: the operator's parameters
 * come first and a client cannot replace them (nor read them: the answer does not echo the URL).
 */
export function mergeQuery(nodeQuery: string, clientQuery: string): string {
  if (nodeQuery === '') return clientQuery;
  if (clientQuery === '') return nodeQuery;
  const taken = new Set(new URLSearchParams(nodeQuery).keys());
  const rest = clientQuery.split('&').filter((pair) => {
    const name = pair.split('=', 1)[0] ?? '';
    let decoded = name;
    try { decoded = decodeURIComponent(name.replace(/\+/g, ' ')); } catch { /* keep raw */ }
    return pair !== '' && !taken.has(decoded);
  });
  return rest.length === 0 ? nodeQuery : `${nodeQuery}&${rest.join('&')}`;
}
