// The read-your-writes floor shared by a fleet through Redis: a client behind a load balancer whose
// receipt came from instance A and whose next read lands on instance B still reads its write.
// Per group and chain a max-register (`<prefix>floor:<group>:<chain>`, raised only by a Lua
// compare-and-set, so two instances racing can never lower it) and one pub/sub channel that pushes
// every rise to the others at once. The chain (as its nodes state it, upstream/chain-identity.ts) is
// part of the register: two fleets with a group of the same name on different chains share one
// Redis safely, and a group that cannot tell its chain yet shares nothing (per instance only).
//
// Never in the way: a rise is published fire-and-forget (at most one command in flight per group;
// a newer rise meanwhile replaces the pending one), nothing waits on Redis, and a slow or dead
// Redis only degrades the floor to per instance — counted (shared_floor_errors_total) and logged
// once per outage. ioredis reconnects by itself and resubscribes.
import type { Cluster, Redis } from 'ioredis';
import { createClient } from '../cache/redis-connection.js';
import type { RedisConfig } from '../config/schema.js';
import { componentLogger } from '../log.js';
import { sharedFloorErrorsTotal } from '../metrics/metrics.js';
import type { ReadFloor } from './read-floor.js';

/** What the shared floor needs of a group: its floor, and the chain it serves once known. */
export interface SharedFloorGroup {
  readonly floor: ReadFloor;
  readonly chain: { readonly id: string | undefined; learned(): Promise<void> };
}

const log = componentLogger('floor');

/** Raise KEYS[1] to ARGV[1] (a decimal without leading zeros) if higher; keep it ARGV[2] seconds. */
const RAISE = `local c = redis.call('GET', KEYS[1])
if c and (#c > #ARGV[1] or (#c == #ARGV[1] and c >= ARGV[1])) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`;
/** A register nobody raised for a day is forgotten (and a long-gone chain with it). */
const KEEP_SECONDS = 86_400;

export class SharedFloor {
  private readonly client: Redis | Cluster;
  private readonly subscriber: Redis | Cluster;
  private readonly channel: string;
  private readonly inFlight = new Set<string>();
  private readonly pending = new Map<string, bigint>();
  private failing = false;
  private closed = false;

  constructor(
    private readonly cfg: RedisConfig,
    private readonly groups: ReadonlyMap<string, SharedFloorGroup>,
  ) {
    this.client = createClient(cfg);
    // Resubscribed by start() on every 'ready', with the rejection handled: ioredis's own
    // resubscribe leaves a timed-out SUBSCRIBE as an unhandled rejection.
    this.subscriber = createClient(cfg, { autoResubscribe: false });
    this.channel = `${cfg.prefix}floor`;
    for (const [group, g] of groups) g.floor.onRise = (v) => this.publish(group, v);
  }

  start(): void {
    this.subscriber.on('message', (channel: string, message: string) => this.received(channel, message));
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(this.channel).catch((err: unknown) => this.failed('subscribe', err));
      this.loadAll();
    });
    // A group whose chain is learnt after the connection came up loads its register then.
    for (const group of this.groups.keys()) void this.groups.get(group)?.chain.learned().then(() => this.load(group));
    for (const c of [this.client, this.subscriber]) c.on('error', (err: unknown) => this.failed('connection', err));
  }

  /** What the fleet showed before this instance started (or while it was cut off). */
  private loadAll(): void {
    for (const group of this.groups.keys()) this.load(group);
  }

  private load(group: string): void {
    const key = this.key(group);
    const floor = this.groups.get(group)?.floor;
    if (key === undefined || !floor || this.closed) return;
    this.client.get(key).then((v) => {
      if (v !== null && /^\d{1,20}$/.test(v)) floor.adopt(BigInt(v));
      this.recovered();
    }, (err: unknown) => this.failed('get', err));
  }

  private publish(group: string, version: bigint): void {
    if (this.closed || this.key(group) === undefined) return;
    if (this.inFlight.has(group)) {
      const queued = this.pending.get(group);
      if (queued === undefined || version > queued) this.pending.set(group, version);
      return;
    }
    this.inFlight.add(group);
    void this.raise(group, version).finally(() => {
      this.inFlight.delete(group);
      const next = this.pending.get(group);
      this.pending.delete(group);
      if (next !== undefined) this.publish(group, next);
    });
  }

  private async raise(group: string, version: bigint): Promise<void> {
    try {
      const key = this.key(group);
      if (key === undefined) return;
      const text = version.toString();
      const rose = await this.client.eval(RAISE, 1, key, text, String(KEEP_SECONDS));
      if (rose === 1) await this.client.publish(this.channel, `${group}\n${this.groups.get(group)?.chain.id ?? ''}\n${text}`);
      this.recovered();
    } catch (err) {
      this.failed('raise', err);
    }
  }

  private received(channel: string, message: string): void {
    if (channel !== this.channel) return;
    const [group, chain, text] = message.split('\n');
    const g = group === undefined ? undefined : this.groups.get(group);
    // Only a rise seen on the same chain: a same-named group elsewhere says nothing about ours.
    if (!g || g.chain.id === undefined || chain !== g.chain.id) return;
    if (text !== undefined && /^\d{1,20}$/.test(text)) g.floor.adopt(BigInt(text));
  }

  /** The group's register; undefined while the group cannot tell its chain (nothing shared then). */
  private key(group: string): string | undefined {
    const chain = this.groups.get(group)?.chain.id;
    return chain === undefined ? undefined : `${this.cfg.prefix}floor:${group}:${chain}`;
  }

  private failed(op: string, err: unknown): void {
    if (this.closed) return;
    sharedFloorErrorsTotal.inc({ op });
    if (this.failing) return;
    this.failing = true;
    log.warn({ op, err: err instanceof Error ? err.message : String(err) }, 'shared read-your-writes floor unavailable: each instance keeps its own until Redis is back');
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    log.info('shared read-your-writes floor back');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const g of this.groups.values()) g.floor.onRise = undefined;
    await Promise.all([this.client, this.subscriber].map((c) => c.quit().catch(() => c.disconnect())));
  }
}
