// Every Prometheus metric the proxy exposes is defined here and nowhere else. Label values are
// bounded: routes and groups come from the config, nodes are named by role (`primary`,
// `replica-0`, ...), call names are the dialect's bounded labels, results and tiers are enums.
import client from 'prom-client';
import { CounterCells, GaugeCell, HistogramCells } from './cells.js';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'ledgerproxy_' });

const ns = 'ledgerproxy_';
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type CacheResultLabel = 'hit' | 'miss' | 'coalesced' | 'bypass' | 'stale' | 'partial' | 'error';

export const requestsTotal = new client.Counter({
  name: `${ns}requests_total`,
  help: 'Client requests answered, by route, dialect, cache result and status class.',
  labelNames: ['route', 'dialect', 'cache', 'status'] as const,
  registers: [registry],
});

export const requestDuration = new client.Histogram({
  name: `${ns}request_duration_seconds`,
  help: 'Client request duration from first byte read to last byte written.',
  labelNames: ['route', 'dialect', 'cache'] as const,
  buckets: latencyBuckets,
  registers: [registry],
});

export const inflightRequests = new client.Gauge({
  name: `${ns}inflight_requests`,
  help: 'Client requests being served now.',
  registers: [registry],
});

export const callsTotal = new client.Counter({
  name: `${ns}calls_total`,
  help: 'Calls served (a JSON-RPC batch counts each call), by group, call name and cache result.',
  labelNames: ['group', 'call', 'cache'] as const,
  registers: [registry],
});

export const upstreamRequestsTotal = new client.Counter({
  name: `${ns}upstream_requests_total`,
  help: 'Requests sent to upstream nodes, by outcome (ok, http_5xx, http_4xx, error, aborted: a hedge won or the client left).',
  labelNames: ['group', 'node', 'outcome'] as const,
  registers: [registry],
});

export const upstreamDuration = new client.Histogram({
  name: `${ns}upstream_request_duration_seconds`,
  help: 'Upstream request duration until the whole body was read.',
  labelNames: ['group', 'node'] as const,
  buckets: latencyBuckets,
  registers: [registry],
});

export const upstreamErrorsTotal = new client.Counter({
  name: `${ns}upstream_errors_total`,
  help: 'Upstream failures by error code.',
  labelNames: ['group', 'node', 'code'] as const,
  registers: [registry],
});

export const hedgesTotal = new client.Counter({
  name: `${ns}hedges_total`,
  help: 'Reads sent to a second node because the first had sent no answer headers after the hedge delay.',
  labelNames: ['group'] as const,
  registers: [registry],
});

export const hedgeWinsTotal = new client.Counter({
  name: `${ns}hedge_wins_total`,
  help: 'Hedged reads whose answer was taken (the hedge beat the first attempt).',
  labelNames: ['group'] as const,
  registers: [registry],
});

export const upstreamRetriesTotal = new client.Counter({
  name: `${ns}upstream_retries_total`,
  help: 'Reads retried on another node after a retryable failure.',
  labelNames: ['group'] as const,
  registers: [registry],
});

export const cacheLookupsTotal = new client.Counter({
  name: `${ns}cache_lookups_total`,
  help: 'Cache lookups by tier and result.',
  labelNames: ['tier', 'result'] as const,
  registers: [registry],
});

export const cacheStoredBytesTotal = new client.Counter({
  name: `${ns}cache_stored_bytes_total`,
  help: 'Bytes of bodies stored: raw (identity) size and the size actually stored.',
  labelNames: ['encoding'] as const,
  registers: [registry],
});

export const cacheStoresTotal = new client.Counter({
  name: `${ns}cache_stores_total`,
  help: 'Entries written, by tier.',
  labelNames: ['tier'] as const,
  registers: [registry],
});

export const cacheEntries = new client.Gauge({
  name: `${ns}cache_entries`,
  help: 'Entries held by the memory tier.',
  labelNames: ['tier'] as const,
  registers: [registry],
  collect: () => memoryGaugesReader?.(),
});

export const cacheBytes = new client.Gauge({
  name: `${ns}cache_bytes`,
  help: 'Bytes held by the memory tier (as counted against cache.memory.maxBytes).',
  labelNames: ['tier'] as const,
  registers: [registry],
  collect: () => memoryGaugesReader?.(),
});

let memoryGaugesReader: (() => void) | undefined;

/**
 * The memory tier's gauges are set when they are read (scrape, get()), by the store created last:
 * setting them on every store and lookup cost two label hashes each.
 */
export function setMemoryGaugesReader(read: () => void): void {
  memoryGaugesReader = read;
}

export const cacheEvictionsTotal = new client.Counter({
  name: `${ns}cache_evictions_total`,
  help: 'Entries evicted to stay within the byte bound.',
  labelNames: ['tier'] as const,
  registers: [registry],
});

export const cacheErrorsTotal = new client.Counter({
  name: `${ns}cache_errors_total`,
  help: 'Cache tier failures (timeouts, connection loss, undecodable values); each one is a miss.',
  labelNames: ['tier', 'op'] as const,
  registers: [registry],
});

export const coalescedCallsTotal = new client.Counter({
  name: `${ns}coalesced_calls_total`,
  help: 'Calls that joined an identical in-flight upstream call instead of making their own.',
  labelNames: ['group'] as const,
  registers: [registry],
});

export const nodeHealthy = new client.Gauge({
  name: `${ns}node_healthy`,
  help: '1 when the node is in rotation, 0 when it is ejected.',
  labelNames: ['group', 'node'] as const,
  registers: [registry],
});

export const nodeHead = new client.Gauge({
  name: `${ns}node_head`,
  help: 'Latest ledger version / block height seen from the node.',
  labelNames: ['group', 'node'] as const,
  registers: [registry],
});

export const nodeLag = new client.Gauge({
  name: `${ns}node_lag`,
  help: 'How far the node is behind the group head (versions or blocks).',
  labelNames: ['group', 'node'] as const,
  registers: [registry],
});

export const redisUp = new client.Gauge({
  name: `${ns}redis_up`,
  help: '1 when the Redis tier is connected and ready, 0 otherwise (absent when Redis is not configured).',
  registers: [registry],
});

export const configReloadsTotal = new client.Counter({
  name: `${ns}config_reloads_total`,
  help: 'Config reloads by result.',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const redisWritable = new client.Gauge({
  name: `${ns}redis_writable`,
  help: '0 while Redis answers but refuses writes (maxmemory under noeviction, read-only), 1 otherwise.',
  registers: [registry],
});

export const redisWriteErrorsTotal = new client.Counter({
  name: `${ns}redis_write_errors_total`,
  help: 'L2 writes Redis refused or did not answer, by reason (oom, readonly, timeout, connection, other).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const redisLateWritesTotal = new client.Counter({
  name: `${ns}redis_late_writes_total`,
  help: 'L2 writes Redis confirmed after commandTimeoutMs (stored, and counted in cache_stores_total too).',
  registers: [registry],
});

export const headProbesTotal = new client.Counter({
  name: `${ns}head_probes_total`,
  help: 'Head and chain-identity probes sent to nodes, by outcome (not in upstream_requests_total).',
  labelNames: ['group', 'node', 'outcome'] as const,
  registers: [registry],
});

/** upstreamRequestsCells' labels, refilled per answer (the cells read them, never keep them). */
const upstreamLabels = ['', '', ''];

/** Client-traffic requests and probes are counted apart, so probe load never looks like traffic. */
export function countUpstreamRequest(group: string, node: string, outcome: string, probe: boolean | undefined): void {
  if (probe) return void headProbesTotal.inc({ group, node, outcome });
  upstreamLabels[0] = group;
  upstreamLabels[1] = node;
  upstreamLabels[2] = outcome;
  upstreamRequestsCells.inc(upstreamLabels);
}

export interface MetricsTopology {
  routes: ReadonlyArray<{ label: string; dialect: string }>;
  groups: ReadonlyArray<{ name: string; nodes: readonly string[] }>;
  redis: boolean;
}

/**
 * Creates at 0 the series the shipped alert rules and dashboards read: a counter that appears only
 * with its first event leaves `rate()` alerts blind until then, and ratios without a denominator.
 * Label values are the bounded ones of the config (routes, groups, node roles) and enums.
 */
export function primeMetrics(t: MetricsTopology): void {
  for (const r of t.routes) {
    for (const cache of ['hit', 'miss', 'coalesced', 'bypass', 'stale', 'partial', 'error'] as const) {
      for (const status of ['2xx', '4xx', '5xx']) requestsTotal.inc({ route: r.label, dialect: r.dialect, cache, status }, 0);
    }
  }
  for (const g of t.groups) {
    upstreamRetriesTotal.inc({ group: g.name }, 0);
    coalescedCallsTotal.inc({ group: g.name }, 0);
    for (const node of g.nodes) {
      for (const outcome of ['ok', 'http_4xx', 'http_5xx', 'error']) {
        upstreamRequestsTotal.inc({ group: g.name, node, outcome }, 0);
        headProbesTotal.inc({ group: g.name, node, outcome }, 0);
      }
    }
  }
  for (const result of ['hit', 'miss']) cacheLookupsTotal.inc({ tier: 'memory', result }, 0);
  cacheEvictionsTotal.inc({ tier: 'memory' }, 0);
  cacheStoresTotal.inc({ tier: 'memory' }, 0);
  for (const result of ['ok', 'error']) configReloadsTotal.inc({ result }, 0);
  if (!t.redis) return;
  for (const result of ['hit', 'miss', 'error']) cacheLookupsTotal.inc({ tier: 'redis', result }, 0);
  for (const op of ['get', 'set', 'purge', 'decode', 'damaged']) cacheErrorsTotal.inc({ tier: 'redis', op }, 0);
  for (const reason of ['oom', 'readonly', 'timeout', 'connection', 'other']) redisWriteErrorsTotal.inc({ reason }, 0);
  cacheStoresTotal.inc({ tier: 'redis' }, 0);
  redisLateWritesTotal.inc(0);
}

/** Calls that ended up served by another call's upstream answer. */
export function countCoalesced(group: string, results: ReadonlyArray<{ cache: string } | undefined>): void {
  let n = 0;
  for (const r of results) if (r?.cache === 'coalesced') n++;
  // A cell, not prom-client's inc: a herd's every follower passes here (CounterCells below).
  if (n > 0) coalescedCells.inc([group], n);
}
export const sharedFloorErrorsTotal = new client.Counter({
  name: `${ns}shared_floor_errors_total`,
  help: 'Failures sharing the read-your-writes floor through Redis; meanwhile each instance keeps its own floor.',
  labelNames: ['op'] as const,
  registers: [registry],
});

export const readFloorRaisesTotal = new client.Counter({
  name: `${ns}read_floor_raises_total`,
  help: 'Times the read-your-writes floor of a group rose, by where the version came from.',
  labelNames: ['group', 'source'] as const,
  registers: [registry],
});

// ---- hot-path cells (cells.ts): the events of every hit and miss, folded in when read -----------

export const requestsCells = new CounterCells(requestsTotal, ['route', 'dialect', 'cache', 'status']);
export const callsCells = new CounterCells(callsTotal, ['group', 'call', 'cache']);
export const upstreamRequestsCells = new CounterCells(upstreamRequestsTotal, ['group', 'node', 'outcome']);
export const cacheLookupsCells = new CounterCells(cacheLookupsTotal, ['tier', 'result']);
export const cacheStoresCells = new CounterCells(cacheStoresTotal, ['tier']);
export const cacheEvictionsCells = new CounterCells(cacheEvictionsTotal, ['tier']);
export const cacheStoredBytesCells = new CounterCells(cacheStoredBytesTotal, ['encoding']);
const coalescedCells = new CounterCells(coalescedCallsTotal, ['group']);
export const requestDurationCells = new HistogramCells(requestDuration, ['route', 'dialect', 'cache']);
export const upstreamDurationCells = new HistogramCells(upstreamDuration, ['group', 'node']);
/** Requests being served now: incremented and decremented as a number, set on the gauge when read. */
export const inflightCell = new GaugeCell(inflightRequests);
