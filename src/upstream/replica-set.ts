// Node selection for one upstream group. Reads go to replicas that are in rotation: breaker not
// open, not lagging more than maxLag behind the group head, head not stuck for maxHeadAgeMs while
// the group moved on, and — for a pinned read — holding that version (head ≥ pin, and for Aptos
// oldest ≤ pin). The primary serves reads only when no replica can, or when the client asked for
// strong consistency. Writes go to the primary only.
import type { UpstreamConfig } from '../config/schema.js';
import { maxLagOf } from '../config/dialect-defaults.js';
import type { Dialect } from '../dialects/types.js';
import { nodeLag } from '../metrics/metrics.js';
import { UpstreamNode } from './node.js';
import { SessionRegistry } from './session-registry.js';

export interface SelectOptions {
  write: boolean;
  /** X-Read-Consistency: strong — read from the primary. */
  strong?: boolean;
  /** Only nodes that have this version. */
  pin?: bigint;
  /**
   * Only nodes whose head is at least this (monotonic reads that cannot be pinned): a replica must
   * have reported such a head; the primary, or the last resort, may also be one whose head is unknown.
   */
  minHead?: bigint | undefined;
  /** Nodes already tried for this call (failover). */
  exclude?: ReadonlySet<UpstreamNode>;
}

export class ReplicaSet {
  readonly primary: UpstreamNode;
  readonly replicas: readonly UpstreamNode[];
  readonly all: readonly UpstreamNode[];
  private readonly maxLag: bigint;
  private cursor = 0;
  constructor(
    readonly name: string,
    readonly config: UpstreamConfig,
    readonly dialect: Dialect,
    /** Which node opened which iterator session; long-lived (survives reloads), see session-registry.ts. */
    private readonly sessions: SessionRegistry = new SessionRegistry(),
  ) {
    this.primary = new UpstreamNode(name, 'primary', 'primary', config.primary, config);
    this.replicas = config.replicas.map((url, i) => new UpstreamNode(name, `replica-${i}`, 'replica', url, config));
    this.all = [this.primary, ...this.replicas];
    this.maxLag = maxLagOf(config);
  }

  /** The highest head any node in rotation reported; the version "latest" reads are keyed by. */
  get head(): bigint | undefined {
    let best: bigint | undefined;
    for (const node of this.all) {
      if (node.healthy && node.head !== undefined && (best === undefined || node.head > best)) best = node.head;
    }
    return best;
  }

  select(opts: SelectOptions): UpstreamNode | undefined {
    const now = Date.now();
    // Writes have one place to go, healthy or not; they are never retried elsewhere.
    if (opts.write) return opts.exclude?.has(this.primary) ? undefined : this.primary;
    // Strong (and monotonic reads the replicas may not have): the primary or nobody, never a replica.
    if (opts.strong) return opts.exclude?.has(this.primary) ? undefined : this.primary;
    // Every read selects: the checks are methods and loops, not closures and a filtered array per call.
    const picked = this.replicas.length === 0 ? undefined : this.pick(this.candidates(opts, now));
    if (picked && picked.breaker.tryAcquire(now)) return picked;
    if (usable(this.primary, opts, now) && this.primary.breaker.tryAcquire(now)) return this.primary;
    // Nothing in rotation: try one anyway rather than fail without asking (it may be back).
    for (const n of this.all) if (!opts.exclude?.has(n) && reaches(n, opts.minHead)) return n;
    return undefined;
  }

  /** The replicas in rotation for this read, in order. */
  private candidates(opts: SelectOptions, now: number): UpstreamNode[] {
    const min = opts.minHead;
    const head = this.head;
    const out: UpstreamNode[] = [];
    for (const n of this.replicas) {
      if (usable(n, opts, now) && (min === undefined || n.head !== undefined) && this.current(n, head, now) && (opts.pin === undefined || n.hasVersion(opts.pin))) out.push(n);
    }
    return out;
  }

  rememberSession(id: string, node: UpstreamNode): void {
    this.sessions.remember(this.name, id, node.name);
  }

  /** The node holding a session; the primary when the proxy never saw it opened. */
  nodeForSession(id: string): UpstreamNode {
    const name = this.sessions.nodeFor(this.name, id);
    return (name === undefined ? undefined : this.all.find((n) => n.name === name)) ?? this.primary;
  }

  /** Not lagging and not stuck (a node without a known head is given the benefit of the doubt). */
  isCurrent(node: UpstreamNode): boolean {
    return this.current(node, this.head, Date.now());
  }

  private current(node: UpstreamNode, groupHead: bigint | undefined, now: number): boolean {
    if (node.head === undefined || groupHead === undefined || node.head >= groupHead) return true;
    if (groupHead - node.head > this.maxLag) return false;
    return now - node.headMovedAt <= this.config.lag.maxHeadAgeMs;
  }

  private pick(candidates: UpstreamNode[]): UpstreamNode | undefined {
    if (candidates.length <= 1) return candidates[0];
    switch (this.config.balance) {
      case 'random':
        return candidates[Math.floor(Math.random() * candidates.length)];
      case 'least-connections':
        return candidates.reduce((a, b) => (b.inflight < a.inflight ? b : a));
      case 'latency':
        return pickByLatency(candidates);
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

/**
 * Power of two choices on (average latency × (in flight + 1)): steers load to fast nodes without
 * sending everything to the single fastest one, and a node with no samples yet gets tried.
 */
function pickByLatency(candidates: UpstreamNode[]): UpstreamNode | undefined {
  const a = candidates[Math.floor(Math.random() * candidates.length)];
  const b = candidates[Math.floor(Math.random() * candidates.length)];
  if (!a || !b) return a ?? b;
  const cost = (n: UpstreamNode) => n.latencyMs * (n.inflight + 1);
  return cost(b) < cost(a) ? b : a;
}

/** Not tried yet for this call, breaker letting requests through, and at the head the read needs. */
function usable(n: UpstreamNode, opts: SelectOptions, now: number): boolean {
  return !opts.exclude?.has(n) && n.breaker.isAvailable(now) && reaches(n, opts.minHead);
}

function reaches(n: UpstreamNode, min: bigint | undefined): boolean {
  return min === undefined || n.head === undefined || n.head >= min;
}
