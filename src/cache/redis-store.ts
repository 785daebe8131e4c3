// L2: Redis, shared by every proxy instance. Redis is an optimization, never a dependency: a slow,
// unreachable or restarting Redis must cost a client request at most one command timeout, and is
// then a miss. Hence a hard deadline on every call, on a connection (redis-connection.ts) with no
// offline queue, no per-request retries and reconnection with capped backoff that never gives up.
// Failures are counted per operation but logged once per outage: a dead Redis under load would
// otherwise write a log line per request. Reads and writes have separate outages: a Redis at
// maxmemory under `noeviction` answers every read and refuses every write (OOM), and that is one
// write outage (one log line, redis_writable 0, redis_write_errors_total), not a flapping pair of
// log lines per miss. A write whose answer comes after commandTimeoutMs is counted as what it
// turned out to be (stored late, or failed), not as an error the moment the caller stops waiting.
import { Cluster, type Redis } from 'ioredis';
import { componentLogger, type Logger } from '../log.js';
import { cacheErrorsTotal, cacheLookupsTotal, cacheStoresTotal, redisLateWritesTotal, redisUp, redisWritable, redisWriteErrorsTotal } from '../metrics/metrics.js';
import { encodeEntry, inspectEntry } from './codec.js';
import { createClient, type RedisConnectionConfig } from './redis-connection.js';
import { isSharedKey } from './key.js';
import { PurgeGenerations } from './purge-generation.js';
import type { CacheEntry, CacheStore, CacheTier } from './types.js';

export interface RedisStoreConfig extends RedisConnectionConfig {
  /** Prepended to every key; also scopes purge('') so other tenants of the Redis are untouched. */
  prefix: string;
}

export interface RedisStoreDeps {
  logger?: Logger;
}

const FAILED = Symbol('redis-failed');
const SCAN_COUNT = 1000;
type Op = 'get' | 'set' | 'purge' | 'decode' | 'damaged';

export class RedisStore implements CacheStore {
  readonly tier: CacheTier = 'redis';
  readonly prefix: string;
  private readonly client: Redis | Cluster;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  /** Set from the first failure until Redis answers again; guards the once-per-outage log. */
  private outageSince: number | undefined;
  /** Commands failed during the current outage, reported when it ends. */
  private outageFailures = 0;
  private lastError: Error | undefined;
  /** Set from a refused write until a write succeeds again (see the file comment). */
  private writeOutageSince: number | undefined;
  private writeOutageFailures = 0;
  /** Writes Redis has not answered yet (including ones the caller stopped waiting for). */
  private readonly writes = new Set<Promise<void>>();
  private closing = false;
  /** A read that began before a purge must not hand out a value the purge deleted. */
  private readonly generations = new PurgeGenerations();

  constructor(cfg: RedisStoreConfig, deps: RedisStoreDeps = {}) {
    // An empty prefix would make purge('') a FLUSHDB of whatever else lives in that Redis.
    if (cfg.prefix === '') throw new RangeError('redis cache needs a non-empty key prefix');
    this.prefix = cfg.prefix;
    this.timeoutMs = cfg.commandTimeoutMs;
    this.log = deps.logger ?? componentLogger('cache');
    this.client = createClient(cfg);
    redisUp.set(0);
    redisWritable.set(1);
    this.watchConnection();
  }

  /** True while the connection is established and ready for commands. */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    // A key of a group whose chain is not known yet is never looked up in the shared tier.
    if (!isSharedKey(key)) return undefined;
    const since = this.generations.generation;
    const read = await this.read(key);
    const entry = read !== FAILED && this.generations.purgedSince(since, key) ? undefined : read;
    if (entry === FAILED) return undefined;
    const fresh = entry !== undefined && entry.expiresAt > Date.now();
    cacheLookupsTotal.inc({ tier: this.tier, result: fresh ? 'hit' : 'miss' });
    return fresh ? entry : undefined;
  }

  /** An expired entry still kept for stale serving (undefined when fresh, absent or gone). */
  async getStale(key: string): Promise<CacheEntry | undefined> {
    if (!isSharedKey(key)) return undefined;
    const entry = await this.read(key);
    const now = Date.now();
    return entry && entry !== FAILED && entry.expiresAt <= now && (entry.staleUntil ?? 0) > now ? entry : undefined;
  }

  /** The stored entry, fresh or not; FAILED when Redis did not answer (already counted). */
  private async read(key: string): Promise<CacheEntry | undefined | typeof FAILED> {
    let raw: Buffer | null;
    try {
      raw = await this.deadline(this.client.getBuffer(this.prefix + key));
    } catch (err) {
      this.failed('get', err);
      cacheLookupsTotal.inc({ tier: this.tier, result: 'error' });
      return FAILED;
    }
    this.answered();
    if (raw === null) return undefined;
    const decoded = inspectEntry(raw);
    if ('entry' in decoded) return decoded.entry;
    // Another format version (rolling upgrade) is a plain miss, left for its writer; a damaged
    // value of ours is deleted so the next fill replaces it instead of every reader tripping on it.
    cacheErrorsTotal.inc({ tier: this.tier, op: decoded.problem === 'damaged' ? 'damaged' : 'decode' });
    if (decoded.problem === 'damaged') void this.deadline(this.client.unlink(this.prefix + key)).catch(() => undefined);
    return undefined;
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    if (!isSharedKey(key)) return;
    const ttl = Math.ceil(Math.max(entry.expiresAt, entry.staleUntil ?? 0) - Date.now());
    if (ttl <= 0) return;
    let write: Promise<unknown>;
    try {
      write = this.client.set(this.prefix + key, encodeEntry(entry), 'PX', ttl);
    } catch (err) {
      this.writeFailed(err);
      return;
    }
    // Settled exactly once, by what Redis answered; the caller waits at most commandTimeoutMs.
    const started = Date.now();
    const outcome = write.then(
      () => this.writeStored(Date.now() - started > this.timeoutMs),
      (err: unknown) => this.writeFailed(err),
    );
    this.writes.add(outcome);
    void outcome.finally(() => this.writes.delete(outcome));
    await this.deadline(outcome).catch(() => undefined);
  }

  private writeStored(late = false): void {
    cacheStoresTotal.inc({ tier: this.tier });
    if (late) redisLateWritesTotal.inc();
    this.answered();
    if (this.writeOutageSince === undefined) return;
    const downMs = Date.now() - this.writeOutageSince;
    this.log.info({ downMs, failedWrites: this.writeOutageFailures }, 'redis accepting writes again');
    this.writeOutageSince = undefined;
    redisWritable.set(1);
  }

  private writeFailed(err: unknown): void {
    const e = toError(err);
    const reason = writeErrorReason(e);
    redisWriteErrorsTotal.inc({ reason });
    // Refused while connected (OOM under noeviction, a read-only replica): its own outage.
    if (this.client.status === 'ready' && reason !== 'timeout') {
      cacheErrorsTotal.inc({ tier: this.tier, op: 'set' });
      this.writeOutageFailures++;
      if (this.writeOutageSince !== undefined || this.closing) return;
      this.writeOutageSince = Date.now();
      this.writeOutageFailures = 1;
      redisWritable.set(0);
      this.log.warn({ err: e, reason }, 'redis refuses writes: serving without storing in L2 until it accepts them again');
      return;
    }
    this.failed('set', e);
  }

  /**
   * SCAN + UNLINK over every master. Unlike get/set this rejects when Redis cannot be reached: an
   * operator asking for a purge must learn that stale entries may survive in L2.
   */
  async purge(prefix: string): Promise<number> {
    this.generations.purged(prefix);
    const pattern = `${escapeGlob(this.prefix + prefix)}*`;
    try {
      // A late write landing after the scan would resurrect a purged key.
      await Promise.all([...this.writes]);
      const masters = await this.currentMasters();
      const counts = await Promise.all(masters.map((node) => this.purgeNode(node, pattern)));
      this.answered();
      return counts.reduce((a, b) => a + b, 0);
    } catch (err) {
      this.failed('purge', err);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    // QUIT lets Redis finish what it has; it cannot be sent while disconnected (no offline queue),
    // and disconnect() is what stops the reconnect loop either way.
    if (this.client.status === 'ready') {
      await this.deadline(this.client.quit()).catch(() => undefined);
    }
    this.client.disconnect();
    redisUp.set(0);
  }

  /**
   * The masters the cluster has now: the node list from connect time misses a master added by a
   * reshard since, and its keys would survive the purge. The slot map is asked for again first.
   */
  private async currentMasters(): Promise<Redis[]> {
    const client = this.client;
    if (!(client instanceof Cluster)) return [client];
    await this.deadline(new Promise<void>((resolve, reject) => client.refreshSlotsCache((err) => (err ? reject(err) : resolve()))));
    // Before the slot map is known there are no nodes: reporting 0 purged would be a lie.
    const masters = client.nodes('master');
    if (masters.length === 0) throw new Error('redis cluster: no master known yet');
    await Promise.all(masters.map((node) => this.deadline(ready(node))));
    return masters;
  }

  private async purgeNode(node: Redis, pattern: string): Promise<number> {
    let cursor = '0';
    let count = 0;
    do {
      const [next, keys] = await this.deadline(node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
      cursor = next;
      if (keys.length > 0) count += await this.unlink(node, keys);
    } while (cursor !== '0');
    return count;
  }

  private async unlink(node: Redis, keys: string[]): Promise<number> {
    if (!(this.client instanceof Cluster)) return this.deadline(node.unlink(...keys));
    // On a cluster a multi-key UNLINK is refused (CROSSSLOT) unless all keys share a slot.
    const results = (await this.deadline(node.pipeline(keys.map((k) => ['unlink', k])).exec())) ?? [];
    let count = 0;
    for (const [err, n] of results) {
      if (err) throw err;
      count += Number(n);
    }
    return count;
  }

  /**
   * commandTimeout only runs once a command is written; Sentinel lookups and cluster redirections
   * or failover retries happen outside it. This deadline is the bound a client request relies on.
   */
  private deadline<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      p.then(
        (v) => (clearTimeout(timer), resolve(v)),
        (e: unknown) => (clearTimeout(timer), reject(e)),
      );
    });
  }

  private watchConnection(): void {
    const onError = (err: Error): void => {
      this.lastError = err;
      // A connected client's errors surface through failed commands or a 'close'.
      if (this.client.status !== 'ready') this.outageStarted('connection error', err);
    };
    this.client.on('error', onError);
    this.client.on('node error', onError); // cluster: one node failing
    this.client.on('ready', () => {
      redisUp.set(1);
      this.outageEnded();
    });
    this.client.on('close', () => {
      redisUp.set(0);
      if (!this.closing) this.outageStarted('connection closed', this.lastError);
    });
  }

  private failed(op: Op, err: unknown): void {
    cacheErrorsTotal.inc({ tier: this.tier, op });
    // While disconnected the connection events have already opened (and logged) the outage.
    if (this.client.status === 'ready') this.outageStarted(`${op} failed`, toError(err));
    this.outageFailures++;
  }

  private answered(): void {
    if (this.outageSince !== undefined) this.outageEnded();
  }

  private outageStarted(reason: string, err: Error | undefined): void {
    if (this.outageSince !== undefined || this.closing) return;
    this.outageSince = Date.now();
    this.outageFailures = 0;
    this.log.warn({ err, reason }, 'redis unavailable: serving without L2 until it answers again');
  }

  private outageEnded(): void {
    if (this.outageSince === undefined) return;
    const downMs = Date.now() - this.outageSince;
    this.outageSince = undefined;
    this.lastError = undefined;
    this.log.info({ downMs, failedCommands: this.outageFailures }, 'redis answering again');
  }
}

/** Escapes SCAN MATCH glob characters so a prefix matches only itself. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** Bounded label for a refused or unanswered write. */
function writeErrorReason(err: Error): 'oom' | 'readonly' | 'timeout' | 'connection' | 'other' {
  const m = err.message;
  if (m.startsWith('OOM')) return 'oom';
  if (m.startsWith('READONLY')) return 'readonly';
  if (/timed out|no answer within/i.test(m)) return 'timeout';
  if (/stream isn't writeable|connection|closed|ECONN/i.test(m)) return 'connection';
  return 'other';
}

/** Resolves once a cluster node's connection is ready (nodes found by a refresh connect lazily). */
function ready(node: Redis): Promise<void> {
  if (node.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    node.once('ready', () => resolve());
    if (node.status === 'wait') node.connect().catch(reject);
  });
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
