// Everything built from one config: upstream groups with their pools and head trackers, the
// routes that point at them, their head snapshots and the hit shortcut. A request takes a lease
// on the runtime when it starts and uses only that runtime until it ends, so a reload never
// changes the routes, groups or pools under a request. A reload builds a new Runtime and retires
// the old one: it takes no new leases and closes its pools when its last lease is released (or at
// the grace deadline, whichever comes first). The cache and the coalescer live outside it and
// survive reloads.
import type { Config, RouteConfig, UpstreamConfig } from '../config/schema.js';
import { finalityDepthOf, headFreshForMs, maxStalenessOf } from '../config/dialect-defaults.js';
import { ReadFloor } from './read-floor.js';
import { SharedFloor } from './shared-floor.js';
import { dialectFor } from '../dialects/index.js';
import type { Dialect } from '../dialects/types.js';
import { ChainIdentity } from '../upstream/chain-identity.js';
import { HeadTracker } from '../upstream/head-tracker.js';
import { ReplicaSet } from '../upstream/replica-set.js';
import { Admission } from '../server/admission.js';
import { HeadSnapshot } from './head-snapshot.js';
import { HitShortcut } from './hit-shortcut.js';
import { SessionRegistry } from '../upstream/session-registry.js';

export interface GroupRuntime {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly dialect: Dialect;
  readonly set: ReplicaSet;
  readonly heads: HeadTracker;
  /** Blocks below the head that may still reorg (EVM); 0 for BFT chains. */
  readonly finalityDepth: bigint;
  /** Which chain the nodes serve; part of every cache key (no shared entries until known). */
  readonly chain: ChainIdentity;
  /** Read-your-writes floor: latest reads are answered for a version ≥ it. */
  readonly floor: ReadFloor;
}

export interface RouteRuntime {
  readonly index: number;
  /** Bounded metric label: the route's name, or its upstream group's. */
  readonly label: string;
  readonly config: RouteConfig;
  readonly group: GroupRuntime;
  readonly snapshot: HeadSnapshot;
  /** A group head unconfirmed for longer than this is frozen: latest reads go to a node. */
  readonly headFreshForMs: number;
}

/** A request's hold on one runtime; release() once, when the request has ended (extra calls are no-ops). */
export interface RuntimeLease {
  readonly runtime: Runtime;
  release(): void;
}

export class Runtime {
  readonly groups: ReadonlyMap<string, GroupRuntime>;
  readonly routes: readonly RouteRuntime[];
  /** What each route matches on, by route index. */
  private readonly rules: readonly RouteRule[];
  readonly admission: Admission;
  /** Raw request → cache key for immutable REST reads (see hit-shortcut.ts); per runtime. */
  readonly shortcut = new HitShortcut();
  /** With Redis: the fleet shares each group's read-your-writes floor. */
  readonly sharedFloor: SharedFloor | undefined;
  private leases = 0;
  private retiring = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;
  private readonly onClosed: Array<() => void> = [];

  constructor(readonly config: Config, sessions: SessionRegistry = new SessionRegistry()) {
    this.admission = new Admission(config.server);
    const groups = new Map<string, GroupRuntime>();
    for (const [name, cfg] of Object.entries(config.upstreams)) groups.set(name, buildGroup(name, cfg, sessions));
    this.groups = groups;
    const redis = config.cache.redis;
    this.sharedFloor = redis ? new SharedFloor(redis, groups) : undefined;
    this.routes = config.routes.map((route, index) => {
      const group = groups.get(route.upstream);
      if (!group) throw new Error(`routes[${index}].upstream: unknown group ${route.upstream}`);
      const staleness = maxStalenessOf(route, group.config);
      return { index, label: route.name ?? route.upstream, config: route, group, snapshot: new HeadSnapshot(staleness), headFreshForMs: headFreshForMs(staleness, group.config) };
    });
    this.rules = config.routes.map((route) => routeRule(route.match));
  }

  /** Keeps the chain identities a previous runtime learned for unchanged groups (see ChainIdentity.adopt). */
  inheritChains(previous: Runtime): void {
    for (const g of this.groups.values()) {
      const before = previous.groups.get(g.name);
      if (before) g.chain.adopt(before.chain);
    }
  }

  start(): void {
    for (const g of this.groups.values()) {
      g.heads.start();
      g.chain.start();
    }
    this.sharedFloor?.start();
  }

  /**
   * First matching rule wins. Every request comes through here: the rules are prepared once
   * (routeRule), and the Host header is normalised only when a rule names a host.
   */
  match(method: string, path: string, host: string | undefined): RouteRuntime | undefined {
    let hostName: string | undefined | null = null;
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i] as RouteRule;
      if (!pathHasPrefix(path, rule.prefix, rule.prefixDir)) continue;
      if (rule.methods !== undefined && !rule.methods.has(method)) continue;
      if (rule.host !== undefined && rule.host !== (hostName === null ? (hostName = hostNameOf(host)) : hostName)) continue;
      return this.routes[i];
    }
    return undefined;
  }

  /** Leases held by requests still running on this runtime. */
  get leased(): number {
    return this.leases;
  }

  acquire(): RuntimeLease {
    this.leases++;
    return new Lease(this);
  }

  /** A lease ended (Lease.release, once per lease). */
  leaseEnded(): void {
    this.leases--;
    if (this.retiring && this.leases === 0) void this.close();
  }

  /**
   * Called once a successor serves new requests: polls stop now, the pools close when the last
   * lease is released, and at the latest after graceMs (the shutdown deadline), so a request that
   * never ends cannot keep a replaced runtime's sockets open. Resolves when closed.
   */
  retire(graceMs: number): Promise<void> {
    this.retiring = true;
    for (const g of this.groups.values()) { g.heads.stop(); g.chain.stop(); }
    if (this.leases === 0) return this.close();
    // Not unref'd: close() (also from shutdown) clears it, so it never outlives the runtime.
    this.graceTimer ??= setTimeout(() => void this.close(), graceMs);
    return new Promise((resolve) => this.onClosed.push(resolve));
  }

  /** Stops polls and closes every pool; idempotent. */
  close(): Promise<void> {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.closed ??= (async () => {
      for (const g of this.groups.values()) {
        g.heads.stop();
        g.chain.stop();
      }
      await this.sharedFloor?.close();
      await Promise.all([...this.groups.values()].map((g) => g.set.close()));
      for (const resolve of this.onClosed.splice(0)) resolve();
    })();
    return this.closed;
  }
}

/** One object per request (an object literal with a release closure was three). */
class Lease implements RuntimeLease {
  private held = true;

  constructor(readonly runtime: Runtime) {}

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.runtime.leaseEnded();
  }
}

function buildGroup(name: string, cfg: UpstreamConfig, sessions: SessionRegistry): GroupRuntime {
  const dialect = dialectFor(cfg.dialect);
  const set = new ReplicaSet(name, cfg, dialect, sessions);
  const floor = new ReadFloor(set);
  const heads = new HeadTracker(set, floor);
  floor.onAheadOfNodes = () => heads.pollNow();
  return { name, config: cfg, dialect, set, heads, finalityDepth: finalityDepthOf(cfg), chain: new ChainIdentity(set), floor };
}

/** A route's match rule, prepared once per config. */
interface RouteRule {
  prefix: string;
  /** The prefix ending in `/`: what a longer path must start with. */
  prefixDir: string;
  /** Methods taken; a route that takes GET takes HEAD too: a HEAD is the GET's read (RFC 9110 §9.3.2). */
  methods: ReadonlySet<string> | undefined;
  /** Lower-cased. */
  host: string | undefined;
}

function routeRule(m: RouteConfig['match']): RouteRule {
  const methods = m.methods === undefined ? undefined : new Set(m.methods);
  if (methods?.has('GET')) methods.add('HEAD');
  const prefixDir = m.pathPrefix.endsWith('/') ? m.pathPrefix : `${m.pathPrefix}/`;
  return { prefix: m.pathPrefix, prefixDir, methods, host: m.host?.toLowerCase() };
}

/** `/v1` matches `/v1` and `/v1/...` but not `/v10`. */
function pathHasPrefix(path: string, prefix: string, prefixDir: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(prefixDir);
}

/** The Host header without its port, lower-cased (as `host.replace(/:\d+$/, '').toLowerCase()`). */
export function hostNameOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  let i = host.length;
  while (i > 0 && isDigit(host.charCodeAt(i - 1))) i--;
  const name = i < host.length && i > 0 && host.charCodeAt(i - 1) === 58 /* : */ ? host.slice(0, i - 1) : host;
  return name.toLowerCase();
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
