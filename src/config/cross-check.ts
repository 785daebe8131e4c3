// Rules that span several keys, which the per-key schema cannot express.
import type { Config } from './schema.js';

export interface CrossProblem {
  path: (string | number)[];
  message: string;
}

export function crossCheck(config: Config): CrossProblem[] {
  return [...checkRoutes(config), ...checkPorts(config), ...checkRedis(config)];
}

function checkRoutes(config: Config): CrossProblem[] {
  const problems: CrossProblem[] = [];
  const groups = Object.keys(config.upstreams);
  if (groups.length === 0) problems.push({ path: ['upstreams'], message: 'at least one upstream group is required' });
  config.routes.forEach((route, i) => {
    if (!(route.upstream in config.upstreams)) {
      problems.push({ path: ['routes', i, 'upstream'], message: `no upstream group named "${route.upstream}" (have: ${groups.join(', ')})` });
    }
  });
  return problems;
}

function checkPorts(config: Config): CrossProblem[] {
  const port = (hp: string) => hp.slice(hp.lastIndexOf(':') + 1);
  const problems: CrossProblem[] = [];
  for (const key of ['listen', 'admin'] as const) {
    const p = Number(port(config.server[key]));
    if (p > 65535) problems.push({ path: ['server', key], message: 'port out of range' });
  }
  // Port 0 (any free port, used by tests) is the one value both may share.
  const listenPort = port(config.server.listen);
  if (listenPort !== '0' && listenPort === port(config.server.admin)) {
    problems.push({ path: ['server', 'admin'], message: 'must differ from server.listen (admin endpoints never share the traffic port)' });
  }
  return problems;
}

function checkRedis(config: Config): CrossProblem[] {
  const redis = config.cache.redis;
  if (!redis) return [];
  const modes = [redis.url, redis.sentinels, redis.cluster].filter((m) => m !== undefined).length;
  if (modes !== 1) return [{ path: ['cache', 'redis'], message: 'set exactly one of url, sentinels or cluster' }];
  if (redis.sentinels && !redis.sentinelName) {
    return [{ path: ['cache', 'redis', 'sentinelName'], message: 'required with sentinels' }];
  }
  if (redis.url && !/^rediss?:\/\//.test(redis.url)) return [{ path: ['cache', 'redis', 'url'], message: 'not a redis:// URL' }];
  return [];
}
