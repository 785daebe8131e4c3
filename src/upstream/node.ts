// One upstream node: its connection pool, its passive health and the head it last reported.
// Node names are roles (`primary`, `replica-0`, ...), never URLs, so metric labels stay bounded and
// credentials in URLs never reach a label or a log line.
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import { nodeHealthy, nodeHead } from '../metrics/metrics.js';

export type NodeRole = 'primary' | 'replica';

export class UpstreamNode {
  readonly pool: Pool;
  readonly origin: string;
  /** Path prefix of the node URL (e.g. `/rpc` for `http://host/rpc`), prepended to every request path. */
  readonly basePath: string;
  /** Requests in flight on this node (for least-connections). */
  inflight = 0;
  consecutiveFailures = 0;
  ejected = false;
  ejectedAt = 0;
  /** Latest version / block height seen from this node. */
  head: bigint | undefined;
  headSeenAt = 0;
  /** Aptos: oldest version the node still has (pruning). */
  oldest: bigint | undefined;

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
    this.pool = new Pool(this.origin, {
      connections: 128,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: config.timeouts.connectMs },
      headersTimeout: config.timeouts.headersMs,
      bodyTimeout: config.timeouts.bodyMs,
    });
    nodeHealthy.set({ group, node: name }, 1);
  }

  get healthy(): boolean {
    return !this.ejected;
  }

  noteHead(head: bigint, now: number): void {
    if (this.head === undefined || head >= this.head) {
      this.head = head;
      this.headSeenAt = now;
      nodeHead.set({ group: this.group, node: this.name }, Number(head));
    }
  }

  /** True when this node can answer a read pinned to `pin` (as far as the proxy knows). */
  hasVersion(pin: bigint): boolean {
    if (this.oldest !== undefined && pin < this.oldest) return false;
    return this.head === undefined || this.head >= pin;
  }

  setHealthy(healthy: boolean, now: number): void {
    this.ejected = !healthy;
    if (!healthy) this.ejectedAt = now;
    else this.consecutiveFailures = 0;
    nodeHealthy.set({ group: this.group, node: this.name }, healthy ? 1 : 0);
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }
}
