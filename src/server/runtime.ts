// Everything built from one config: upstream groups with their pools and head trackers, and the
// routes that point at them. A reload builds a new Runtime and retires the old one once its
// in-flight requests are done; the cache and the coalescer live outside it and survive reloads.
import type { Config, RouteConfig, UpstreamConfig } from '../config/schema.js';
import { finalityDepthOf, headFreshForMs, maxStalenessOf } from '../config/dialect-defaults.js';
import { ReadFloor } from '../runtime/read-floor.js';
import { SharedFloor } from '../runtime/shared-floor.js';
import { dialectFor } from '../dialects/index.js';
import type { Dialect } from '../dialects/types.js';
import { HeadTracker } from '../upstream/head-tracker.js';
import { ReplicaSet } from '../upstream/replica-set.js';
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

export class Runtime {
  readonly groups: ReadonlyMap<string, GroupRuntime>;
  readonly routes: readonly RouteRuntime[];
  readonly admission: Admission;
  /** Raw request → cache key for immutable REST reads (see hit-shortcut.ts); per runtime. */
  readonly shortcut = new HitShortcut();
  /** With Redis: the fleet shares each group's read-your-writes floor. */
  readonly sharedFloor: SharedFloor | undefined;

  constructor(readonly config: Config) {
    this.admission = new Admission(config.server);
    const groups = new Map<string, GroupRuntime>();
    for (const [name, cfg] of Object.entries(config.upstreams)) groups.set(name, buildGroup(name, cfg));
    this.groups = groups;
    const redis = config.cache.redis;
    this.sharedFloor = redis ? new SharedFloor(redis, new Map([...groups].map(([n, g]) => [n, g.floor]))) : undefined;
    this.routes = config.routes.map((route, index) => {
      const group = groups.get(route.upstream);
      if (!group) throw new Error(`routes[${index}].upstream: unknown group ${route.upstream}`);
      const staleness = maxStalenessOf(route, group.config);
      return { index, label: route.name ?? route.upstream, config: route, group, snapshot: new HeadSnapshot(staleness), headFreshForMs: headFreshForMs(staleness, group.config) };
    });
  }

  start(): void {
    for (const g of this.groups.values()) g.heads.start();
    this.sharedFloor?.start();
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
    for (const g of this.groups.values()) g.heads.stop();
    await this.sharedFloor?.close();
    await Promise.all([...this.groups.values()].map((g) => g.set.close()));
  }
}

function buildGroup(name: string, cfg: UpstreamConfig): GroupRuntime {
  const dialect = dialectFor(cfg.dialect);
  const set = new ReplicaSet(name, cfg, dialect);
  const floor = new ReadFloor(set);
  const heads = new HeadTracker(set, floor);
  floor.onAheadOfNodes = () => heads.pollNow();
  return { name, config: cfg, dialect, set, heads, finalityDepth: finalityDepthOf(cfg), floor };
}

/** `/v1` matches `/v1` and `/v1/...` but not `/v10`. */
function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  const p = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return path.startsWith(p);
}
