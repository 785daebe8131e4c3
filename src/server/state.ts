// The long-lived parts of a running proxy. The runtime (groups, routes, pools) is swapped on a
// config reload; the cache and the coalescer are kept, so a reload loses no cached answers and
// does not split a herd that is in flight. A request leases the runtime it starts on and keeps it
// to its end; a replaced runtime closes when its last lease is released (runtime/runtime.ts).
import { MemoryStore } from '../cache/memory-store.js';
import { makeStoreAnswer } from '../cache/policy.js';
import { RedisStore } from '../cache/redis-store.js';
import { TieredStore } from '../cache/tiered-store.js';
import { Singleflight } from '../coalesce/singleflight.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { Runtime, type RuntimeLease } from '../runtime/runtime.js';
import type { Answer, CallPlan } from '../runtime/types.js';
import { SessionRegistry } from '../upstream/session-registry.js';
import { primeRuntimeMetrics } from '../metrics/prime.js';

export class ProxyState {
  private current: Runtime;
  /** Replaced runtimes whose last requests are still running. */
  private readonly retiring = new Set<Runtime>();
  readonly cache: TieredStore;
  readonly flights = new Singleflight<Answer>();
  /** Iterator session → node, kept across reloads (the replica sets are rebuilt by one). */
  readonly sessions = new SessionRegistry();
  readonly storeAnswer: (plan: CallPlan, answer: Answer) => Answer;
  /** Set on SIGTERM: /readyz answers 503 from then on. */
  draining = false;

  constructor(config: Config, readonly log: Logger) {
    this.current = new Runtime(config, this.sessions);
    primeRuntimeMetrics(this.current, config.cache.redis !== undefined);
    this.cache = buildCache(config);
    this.storeAnswer = makeStoreAnswer(this.cache, config.cache);
  }

  /**
   * The runtime new requests start on (admin endpoints and connection setup read it). A request
   * must not read it: it takes a lease with acquire() and uses that runtime to its end.
   */
  get runtime(): Runtime {
    return this.current;
  }

  acquire(): RuntimeLease {
    return this.current.acquire();
  }

  start(): void {
    this.current.start();
  }

  /**
   * Swaps in a runtime built from a new config for every request that starts from now on. The old
   * one keeps serving the requests that leased it and closes when the last of them ends, at the
   * latest after the shutdown deadline. Resolves once the new runtime is in force.
   */
  async replaceRuntime(config: Config): Promise<void> {
    const next = new Runtime(config, this.sessions);
    primeRuntimeMetrics(next, config.cache.redis !== undefined);
    const previous = this.current;
    next.inheritChains(previous);
    this.current = next;
    next.start();
    this.retiring.add(previous);
    void previous.retire(previous.config.server.shutdown.deadlineMs).finally(() => this.retiring.delete(previous));
  }

  /** Shutdown: in-flight requests have had their drain time; everything closes now. */
  async close(): Promise<void> {
    await Promise.all([this.current.close(), ...[...this.retiring].map((r) => r.close())]);
    await this.cache.close();
  }
}

function buildCache(config: Config): TieredStore {
  const memory = new MemoryStore({ maxBytes: config.cache.memory.maxBytes, maxEntryBytes: config.cache.memory.maxEntryBytes });
  const redis = config.cache.redis;
  const remote = redis ? new RedisStore(redis) : undefined;
  return new TieredStore({ memory, remote });
}
