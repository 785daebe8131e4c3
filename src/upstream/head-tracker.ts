// Active side of health and heads: polls every node for its head with the dialect's light request
// (GET /v1, eth_blockNumber, getblockcount). A good answer moves the node's head forward and puts an
// ejected node back in rotation; a failed one counts against it. Heads also arrive for free from
// response headers (see failover.ts); the poll bounds how old the tracked head can get when traffic
// is quiet. A write through the proxy starts a short burst of polls (afterWrite): the head it moves
// is seen within tens of milliseconds instead of a poll interval. Timers are unref'd and cleared on
// stop, so nothing keeps the process alive or leaks.
import { randomUUID } from 'node:crypto';
import { componentLogger } from '../log.js';
import type { ProxyError } from '../errors.js';
import { sendToNode } from './client.js';
import { answeredLate, isNodeFailureStatus, recordFailure, recordProbeSuccess, recordSlow } from './health.js';
import { slowAfterMs } from './hedge.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet } from './replica-set.js';

const log = componentLogger('head');

/** Told about every successful poll (the read-your-writes floor confirms and follows heads with it). */
export interface HeadPollListener {
  /** `startedAt`: Date.now() when the poll was sent; `now`: performance.now() when it was applied. */
  polled(node: UpstreamNode, startedAt: number, now: number): void;
}

export class HeadTracker {
  private timer: NodeJS.Timeout | undefined;
  private readonly busy = new Map<UpstreamNode, Promise<void>>();
  private readonly lastPoll = new Map<UpstreamNode, number>();
  /** performance.now() at which the running (or last) poll of each node was started. */
  private readonly sentAt = new Map<UpstreamNode, number>();
  private stopped = false;
  private burst: NodeJS.Timeout | undefined;
  private burstRunning = false;
  private burstUntil = 0;
  private burstFrom: bigint | undefined;

  constructor(
    private readonly set: ReplicaSet,
    private readonly listener?: HeadPollListener,
  ) {}

  start(): void {
    const { pollIntervalMs } = this.set.config.head;
    const tick = Math.max(50, Math.min(pollIntervalMs, this.set.config.health.probeIntervalMs));
    void this.pollDue();
    this.timer = setInterval(() => void this.pollDue(), tick);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.burst) clearTimeout(this.burst);
    this.timer = undefined;
    this.burst = undefined;
  }

  /** Polls every node now, without waiting (a node already being polled is not asked twice). */
  pollNow(): void {
    void this.pollAll();
  }

  /**
   * A write went through: poll now, then every few tens of ms until the group head moves past where
   * it was or the bound passes. A write during a burst extends it; there is never more than one.
   */
  afterWrite(): void {
    if (this.stopped) return;
    const { pollIntervalMs } = this.set.config.head;
    this.burstUntil = Date.now() + Math.min(10_000, Math.max(1_000, 2 * pollIntervalMs));
    // The burst waits for the head to pass where it is at the *latest* write. Keeping the first
    // write's head let a burst end on a block that moved before the second write (one learnt in
    // passing, from an answer or the read floor) and never see the second write's block: latest
    // reads, getblockcount included, stayed on the old head for a whole poll interval.
    this.burstFrom = this.set.head;
    if (this.burstRunning) return;
    this.burstRunning = true;
    const every = Math.max(25, Math.min(100, Math.floor(pollIntervalMs / 4)));
    const step = async (): Promise<void> => {
      await this.pollAll();
      const head = this.set.head;
      const moved = head !== undefined && (this.burstFrom === undefined || head > this.burstFrom);
      if (this.stopped || moved || Date.now() >= this.burstUntil) {
        this.burstRunning = false;
        this.burst = undefined;
        return;
      }
      this.burst = setTimeout(() => void step(), every);
      this.burst.unref();
    };
    void step();
  }

  /**
   * Polls `node` with a request sent at or after `seenAt` (performance.now() when the caller saw an
   * answer implying a newer head): a running poll sent later is joined; one sent earlier may have
   * been answered before that block, so it is waited for and the node asked again. Resolves on
   * success or failure.
   */
  async pollAfter(node: UpstreamNode, seenAt: number): Promise<void> {
    const running = this.busy.get(node);
    if (running && (this.sentAt.get(node) ?? Number.NEGATIVE_INFINITY) >= seenAt) return running;
    if (running) await running;
    await this.poll(node);
  }

  /** Polls every node now and resolves when all answered or failed (used at start-up and by tests). */
  async pollAll(): Promise<void> {
    await Promise.all(this.set.all.map((n) => this.poll(n)));
  }

  private async pollDue(): Promise<void> {
    const now = Date.now();
    const due = this.set.all.filter((node) => {
      const every = node.healthy ? this.set.config.head.pollIntervalMs : this.set.config.health.probeIntervalMs;
      return now - (this.lastPoll.get(node) ?? 0) >= every;
    });
    await Promise.all(due.map((n) => this.poll(n)));
  }

  /** One poll per node at a time; a caller arriving meanwhile waits for the running one. */
  private poll(node: UpstreamNode): Promise<void> {
    const running = this.busy.get(node);
    if (running || this.stopped) return running ?? Promise.resolve();
    this.sentAt.set(node, performance.now());
    const p = this.pollOnce(node).finally(() => this.busy.delete(node));
    this.busy.set(node, p);
    return p;
  }

  private async pollOnce(node: UpstreamNode): Promise<void> {
    const startedAt = Date.now();
    this.lastPoll.set(node, startedAt);
    const cfg = this.set.config;
    const headPoll = this.set.dialect.headPoll();
    try {
      const answer = await sendToNode(node, headPoll.payload, probeForward(), {
        extraHeaders: cfg.headers,
        maxResponseBytes: 1_048_576,
        probe: true,
        signal: AbortSignal.timeout(Math.max(cfg.timeouts.headersMs, 1000)),
      });
      const head = answer.status === 200 ? headPoll.parse(answer.status, answer.body) : undefined;
      if (head === undefined) {
        this.fail(node, answer.status);
        return;
      }
      // A probe answered only after the hedge delay is no proof that a node out of rotation for
      // being slow is back: it would be put back, slow, and cost reads until the rate opened again.
      if (answeredLate(node, this.set.all, answer.headersMs, slowAfterMs(this.set))) recordSlow(node, Date.now(), answer.headersMs ?? 0);
      else recordProbeSuccess(node, Date.now());
      node.setPolledHead(head, Date.now());
      this.set.updateLag();
      this.listener?.polled(node, startedAt, performance.now());
    } catch (err) {
      this.fail(node, err as ProxyError);
    }
  }

  private fail(node: UpstreamNode, reason: ProxyError | number): void {
    if (this.stopped) return;
    if (typeof reason === 'number' && !isNodeFailureStatus(reason)) {
      log.debug({ group: node.group, node: node.name, status: reason }, 'head poll not understood');
    }
    recordFailure(node, Date.now(), reason);
  }
}

function probeForward() {
  return { requestId: `probe-${randomUUID()}`, clientIp: undefined, forwardedFor: undefined, proto: 'http', host: undefined };
}
