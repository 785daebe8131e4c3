// The bounded label values a runtime knows (routes, groups, node roles), for primeMetrics.
import type { Runtime } from '../runtime/runtime.js';
import { primeMetrics } from './metrics.js';

export function primeRuntimeMetrics(runtime: Runtime, redis: boolean): void {
  primeMetrics({
    routes: runtime.routes.map((r) => ({ label: r.label, dialect: r.group.config.dialect })),
    groups: [...runtime.groups.values()].map((g) => ({ name: g.name, nodes: g.set.all.map((n) => n.name) })),
    redis,
  });
}
