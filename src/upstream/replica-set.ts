// Node selection for one upstream group. Reads go to healthy replicas (round-robin by default);
// the primary serves reads only when no replica can (none configured, none healthy, none that has
// the pinned version) or when the client asked for strong consistency. Writes go to the primary only.
import type { UpstreamConfig } from '../config/schema.js';
import type { Dialect } from '../dialects/types.js';
import { nodeLag } from '../metrics/metrics.js';
import { UpstreamNode } from './node.js';

export interface SelectOptions {
  write: boolean;
  /** X-Read-Consistency: strong — read from the primary. */
  strong?: boolean;
  /** Only nodes that have this version. */
  pin?: bigint;
  /** Nodes already tried for this call (failover). */
  exclude?: ReadonlySet<UpstreamNode>;
}

export class ReplicaSet {
  readonly primary: UpstreamNode;
  readonly replicas: readonly UpstreamNode[];
  readonly all: readonly UpstreamNode[];
  private cursor = 0;

  constructor(
    readonly name: string,
    readonly config: UpstreamConfig,
    readonly dialect: Dialect,
  ) {
    this.primary = new UpstreamNode(name, 'primary', 'primary', config.primary, config);
    this.replicas = config.replicas.map((url, i) => new UpstreamNode(name, `replica-${i}`, 'replica', url, config));
    this.all = [this.primary, ...this.replicas];
  }

  /** The highest head any healthy node reported; the version "latest" reads are keyed by. */
  get head(): bigint | undefined {
    let best: bigint | undefined;
    for (const node of this.all) {
      if (node.healthy && node.head !== undefined && (best === undefined || node.head > best)) best = node.head;
    }
    return best;
  }

  select(opts: SelectOptions): UpstreamNode | undefined {
    const usable = (n: UpstreamNode) => n.healthy && !opts.exclude?.has(n);
    // Writes have one place to go, healthy or not; they are never retried elsewhere.
    if (opts.write) return opts.exclude?.has(this.primary) ? undefined : this.primary;
    if (!opts.strong) {
      const candidates = this.replicas.filter((n) => usable(n) && (opts.pin === undefined || n.hasVersion(opts.pin)));
      const picked = this.pick(candidates);
      if (picked) return picked;
    }
    if (usable(this.primary)) return this.primary;
    // Every node is ejected: try one anyway rather than fail without asking (it may be back).
    return this.all.find((n) => !opts.exclude?.has(n));
  }

  private pick(candidates: UpstreamNode[]): UpstreamNode | undefined {
    if (candidates.length === 0) return undefined;
    switch (this.config.balance) {
      case 'random':
        return candidates[Math.floor(Math.random() * candidates.length)];
      case 'least-connections':
        return candidates.reduce((a, b) => (b.inflight < a.inflight ? b : a));
      default:
        return candidates[this.cursor++ % candidates.length];
    }
  }

  /** Refresh the lag gauges after a head moved. */
  updateLag(): void {
    const head = this.head;
    if (head === undefined) return;
    for (const node of this.all) {
      if (node.head !== undefined) nodeLag.set({ group: this.name, node: node.name }, Number(head - node.head));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((n) => n.close()));
  }
}
