// Learns which chain an upstream group serves, from its nodes, before the group may use shared
// (L2) cache entries: the identity becomes part of every cache key (key.ts), so two proxies that
// share one Redis, each with a group `main` on a different chain, never meet in it. Until the
// identity is known — nodes down at start-up, an answer not understood — the group's keys are
// local-only: L1 still works, nothing is read from or written to Redis. Asked again with backoff
// until a node tells; timers are unref'd and cleared on stop.
import { randomUUID } from 'node:crypto';
import type { Dialect } from '../dialects/types.js';
import { componentLogger } from '../log.js';
import { sendToNode } from './client.js';
import type { UpstreamNode } from './node.js';

const log = componentLogger('cache');
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

export interface ChainIdentitySource {
  readonly name: string;
  readonly all: readonly UpstreamNode[];
  readonly config: { headers: Readonly<Record<string, string>>; timeouts: { headersMs: number } };
  readonly dialect: Dialect;
}

export class ChainIdentity {
  private value: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private retryMs = FIRST_RETRY_MS;
  private waiters: Array<() => void> = [];
  private firstRound: Promise<void> | undefined;

  constructor(private readonly set: ChainIdentitySource) {}

  /** The chain as its nodes state it (e.g. `evm-137`, `neo-860833102`); undefined until learned. */
  get id(): string | undefined {
    return this.value;
  }

  /**
   * Takes over what a previous runtime learned for the same nodes (a config reload), so the
   * group's keys — and with them L1 and L2 entries — stay the same across the reload.
   */
  adopt(previous: ChainIdentity): void {
    if (previous.value === undefined || !sameNodes(previous.set, this.set)) return;
    this.value = previous.value;
  }

  start(): void {
    this.firstRound = this.ask();
  }

  /** Resolves when the first round of asking is over, learned or not (start-up waits, tests). */
  asked(): Promise<void> {
    return this.firstRound ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.release();
  }

  /** Resolves once the identity is known (or the tracker stopped); for start-up waits and tests. */
  learned(): Promise<void> {
    if (this.value !== undefined || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async ask(): Promise<void> {
    if (this.stopped || this.value !== undefined) return;
    const answers = await Promise.all(this.set.all.map((node) => this.askNode(node)));
    const ids = [...new Set(answers.filter((a): a is string => a !== undefined))];
    if (ids.length > 1) {
      // A group whose nodes serve different chains cannot share anything safely; stay local.
      log.error({ group: this.set.name, chains: ids }, 'nodes of one group report different chains: shared cache off for this group');
      return;
    }
    if (ids[0] !== undefined) {
      this.value = ids[0];
      log.info({ group: this.set.name, chain: this.value }, 'chain identity learned: shared cache on for this group');
      this.release();
      return;
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.ask(), this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private async askNode(node: UpstreamNode): Promise<string | undefined> {
    const poll = this.set.dialect.chainIdentity();
    try {
      const answer = await sendToNode(node, poll.payload, probeForward(), {
        extraHeaders: this.set.config.headers,
        maxResponseBytes: 65_536,
        probe: true,
        signal: AbortSignal.timeout(Math.max(this.set.config.timeouts.headersMs, 1000)),
      });
      return poll.parse(answer.status, answer.body);
    } catch {
      return undefined;
    }
  }

  private release(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const resolve of waiting) resolve();
  }
}

function sameNodes(a: ChainIdentitySource, b: ChainIdentitySource): boolean {
  const urls = (s: ChainIdentitySource) => s.all.map((n) => `${n.origin}${n.basePath}`).join(' ');
  return a.name === b.name && a.dialect.name === b.dialect.name && urls(a) === urls(b);
}

function probeForward() {
  return { requestId: `chain-${randomUUID()}`, clientIp: undefined, forwardedFor: undefined, proto: 'http', host: undefined };
}
