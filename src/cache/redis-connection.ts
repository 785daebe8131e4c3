// How ledgerproxy connects to Redis (one server, Sentinel or Cluster), for the L2 store and the
// shared floor alike. Redis must never hold a request up: no offline queue (commands fail at once
// while disconnected), no replay of unanswered commands after a reconnect, no per-request retries,
// and reconnection with capped, jittered backoff that never gives up.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export interface RedisConnectionConfig {
  /** redis[s]://[user:pass@]host:port[/db]; for Sentinel and Cluster only its auth, db and TLS are used. */
  url?: string;
  sentinels?: Array<{ host: string; port: number }>;
  /** The master name the sentinels know. */
  sentinelName?: string;
  /** Seed nodes, 'host:port' or redis:// URLs. */
  cluster?: string[];
  commandTimeoutMs: number;
  connectTimeoutMs?: number;
}

const MAX_BACKOFF_MS = 2000;
/** ioredis' own command timeout, as a multiple of ours: long enough to learn what a late write did. */
const LATE_ANSWER_FACTOR = 4;

/** Reconnect delay: exponential from 50 ms, capped, with jitter so a fleet does not reconnect in step. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.min(attempt, 16), MAX_BACKOFF_MS);
  return Math.round(base * (0.5 + Math.random() / 2));
}

/** `extra`: options for a special-purpose connection (the shared floor's subscriber). */
export function createClient(cfg: RedisConnectionConfig, extra: RedisOptions = {}): Redis | Cluster {
  const common: RedisOptions = {
    ...urlOptions(cfg.url),
    enableOfflineQueue: false,
    // RedisStore's own deadline bounds every caller at commandTimeoutMs; ioredis' timeout only
    // stops waiting for good, later, so a late write can still be counted as what it did.
    commandTimeout: cfg.commandTimeoutMs * LATE_ANSWER_FACTOR,
    connectTimeout: cfg.connectTimeoutMs ?? 2000,
    maxRetriesPerRequest: 0,
    // Replaying commands after a reconnect would answer requests that have long been served.
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelay,
    ...extra,
  };
  if (cfg.cluster && cfg.cluster.length > 0) {
    const { host: _h, port: _p, retryStrategy: _r, ...nodeOptions } = common;
    const options: ClusterOptions = {
      redisOptions: nodeOptions,
      enableOfflineQueue: false,
      clusterRetryStrategy: reconnectDelay,
      // Fewer, shorter redirection retries: the deadline would cut long ones off anyway.
      maxRedirections: 4,
      retryDelayOnFailover: 50,
      retryDelayOnClusterDown: 50,
      retryDelayOnTryAgain: 50,
    };
    return new Cluster(cfg.cluster, options);
  }
  if (cfg.sentinels && cfg.sentinels.length > 0) {
    if (!cfg.sentinelName) throw new RangeError('redis sentinels need sentinelName (the master name)');
    const { host: _h, port: _p, ...rest } = common;
    return new Redis({ ...rest, sentinels: cfg.sentinels, name: cfg.sentinelName, sentinelRetryStrategy: reconnectDelay });
  }
  return new Redis(common);
}

/** Connection options from a redis:// or rediss:// URL (ioredis defaults when absent). */
export function urlOptions(url: string | undefined): RedisOptions {
  if (!url) return {};
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RangeError(`not a redis URL: ${u.protocol}`);
  const opts: RedisOptions = {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
  };
  if (u.username) opts.username = decodeURIComponent(u.username);
  if (u.password) opts.password = decodeURIComponent(u.password);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '') opts.db = Number(db);
  if (u.protocol === 'rediss:') opts.tls = {};
  return opts;
}
