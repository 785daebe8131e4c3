// Everything built from one config: upstream groups with their pools and head trackers, and the
// routes that point at them. A reload builds a new Runtime and retires the old one once its
// in-flight requests are done; the cache and the coalescer live outside it and survive reloads.
import type { Config, RouteConfig, UpstreamConfig } from '../config/schema.js';
import { finalityDepthOf } from '../config/dialect-defaults.js';
import { dialectFor } from '../dialects/index.js';
import type { Dialect } from '../dialects/types.js';
import { ChainIdentity } from '../cache/chain-identity.js';
import { HeadTracker } from '../upstream/head-tracker.js';
import { ReplicaSet } from '../upstream/replica-set.js';
import { SessionRegistry } from '../upstream/session-registry.js';
import { HeadSnapshot } from '../pipeline/head-snapshot.js';
import { Admission } from './admission.js';
import { HitShortcut } from '../pipeline/hit-shortcut.js';

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
}

export interface RouteRuntime {
  readonly index: number;
  /** Bounded metric label: the route's name, or its upstream group's. */
  readonly label: string;
  readonly config: RouteConfig;
  readonly group: GroupRuntime;
  readonly snapshot: HeadSnapshot;
}

export class Runtime {
  readonly groups: ReadonlyMap<string, GroupRuntime>;
  readonly routes: readonly RouteRuntime[];
  readonly admission: Admission;
  /** Raw request → cache key for immutable REST reads (see hit-shortcut.ts); per runtime. */
  readonly shortcut = new HitShortcut();

  constructor(readonly config: Config, sessions: SessionRegistry = new SessionRegistry()) {
    this.admission = new Admission(config.server);
    const groups = new Map<string, GroupRuntime>();
    for (const [name, cfg] of Object.entries(config.upstreams)) groups.set(name, buildGroup(name, cfg, sessions));
    this.groups = groups;
    this.routes = config.routes.map((route, index) => {
      const group = groups.get(route.upstream);
      if (!group) throw new Error(`routes[${index}].upstream: unknown group ${route.upstream}`);
      return { index, label: route.name ?? route.upstream, config: route, group, snapshot: new HeadSnapshot(route.cache.maxStaleness) };
    });
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
  }

  /** First matching rule wins. */
  match(method: string, path: string, host: string | undefined): RouteRuntime | undefined {
    const hostName = host?.replace(/:\d+$/, '').toLowerCase();
    return this.routes.find((r) => {
      const m = r.config.match;
      if (!pathHasPrefix(path, m.pathPrefix)) return false;
      if (m.methods && !m.methods.includes(method)) return false;
      return m.host === undefined || m.host.toLowerCase() === hostName;
    });
  }

  async close(): Promise<void> {
    for (const g of this.groups.values()) {
      g.heads.stop();
      g.chain.stop();
    }
    await Promise.all([...this.groups.values()].map((g) => g.set.close()));
  }
}

function buildGroup(name: string, cfg: UpstreamConfig, sessions: SessionRegistry): GroupRuntime {
  const dialect = dialectFor(cfg.dialect);
  const set = new ReplicaSet(name, cfg, dialect, sessions);
  return { name, config: cfg, dialect, set, heads: new HeadTracker(set), finalityDepth: finalityDepthOf(cfg), chain: new ChainIdentity(set) };
}

/** `/v1` matches `/v1` and `/v1/...` but not `/v10`. */
function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  const p = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return path.startsWith(p);
}
