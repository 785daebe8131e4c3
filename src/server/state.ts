// The long-lived parts of a running proxy. The runtime (groups, routes, pools) is swapped on a
// config reload; the cache and the coalescer are kept, so a reload loses no cached answers and
// does not split a herd that is in flight.
import { MemoryStore } from '../cache/memory-store.js';
import { makeStoreAnswer } from '../cache/policy.js';
import { RedisStore } from '../cache/redis-store.js';
import { TieredStore } from '../cache/tiered-store.js';
import { Singleflight } from '../coalesce/singleflight.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { CallPlan } from '../pipeline/plan-call.js';
import type { Answer } from '../pipeline/serve-calls.js';
import { Runtime } from './runtime.js';
import { SessionRegistry } from '../upstream/session-registry.js';
import { primeRuntimeMetrics } from '../metrics/prime.js';

export class ProxyState {
  runtime: Runtime;
  readonly cache: TieredStore;
  readonly flights = new Singleflight<Answer>();
  /** Iterator session → node, kept across reloads (the replica sets are rebuilt by one). */
  readonly sessions = new SessionRegistry();
  readonly storeAnswer: (plan: CallPlan, answer: Answer) => Answer;
  /** Set on SIGTERM: /readyz answers 503 from then on. */
  draining = false;

  constructor(config: Config, readonly log: Logger) {
    this.runtime = new Runtime(config, this.sessions);
    primeRuntimeMetrics(this.runtime, config.cache.redis !== undefined);
    this.cache = buildCache(config);
    this.storeAnswer = makeStoreAnswer(this.cache, config.cache);
  }

  start(): void {
    this.runtime.start();
  }

  /** Swaps in a runtime built from a new config; the old one is closed once its requests are done. */
  async replaceRuntime(config: Config): Promise<void> {
    const next = new Runtime(config, this.sessions);
    primeRuntimeMetrics(next, config.cache.redis !== undefined);
    const previous = this.runtime;
    next.inheritChains(previous);
    this.runtime = next;
    next.start();
    await previous.close();
  }

  async close(): Promise<void> {
    await this.runtime.close();
    await this.cache.close();
  }
}

function buildCache(config: Config): TieredStore {
  const memory = new MemoryStore({ maxBytes: config.cache.memory.maxBytes, maxEntryBytes: config.cache.memory.maxEntryBytes });
  const redis = config.cache.redis;
  const remote = redis ? new RedisStore(redis) : undefined;
  return new TieredStore({ memory, remote });
}
