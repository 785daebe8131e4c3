// Hedging state of one upstream group: its config, the latency window the delay comes from, the
// budget and the counters /admin/status shows. Kept per ReplicaSet in a WeakMap, so a config
// reload (a new ReplicaSet) starts fresh and nothing outlives the runtime that used it.
import type { UpstreamConfig } from '../config/schema.js';
import { hedgeWinsTotal, hedgesTotal } from '../metrics/metrics.js';
import { HedgeBudget } from './hedge-budget.js';
import { LatencyWindow } from './latency-window.js';

/** Answers the delay estimate looks at, and how many it needs before it trusts itself. */
const WINDOW_SIZE = 128;
const WINDOW_MIN_SAMPLES = 20;

export type HedgeConfig = UpstreamConfig['hedge'];

export class GroupHedge {
  readonly budget: HedgeBudget;
  readonly window: LatencyWindow;
  hedges = 0;
  wins = 0;

  constructor(readonly group: string, readonly config: HedgeConfig) {
    this.budget = new HedgeBudget(config.maxExtraPercent);
    this.window = new LatencyWindow({
      size: WINDOW_SIZE,
      minSamples: WINDOW_MIN_SAMPLES,
      quantile: config.quantile,
      minMs: config.minDelayMs,
      maxMs: config.maxDelayMs,
    });
  }

  /** The delay now: the fixed one when configured, else the bounded quantile of recent answers. */
  delayMs(): number {
    return this.config.delayMs ?? this.window.estimate();
  }

  /** Time to headers of a good answer. */
  noteAnswer(headersMs: number): void {
    this.window.record(headersMs);
  }

  noteHedge(): void {
    this.hedges++;
    hedgesTotal.inc({ group: this.group });
  }

  noteWin(): void {
    this.wins++;
    hedgeWinsTotal.inc({ group: this.group });
  }

  status(): Record<string, unknown> {
    return {
      enabled: this.config.enabled,
      delayMs: this.delayMs(),
      delaySource: this.config.delayMs !== undefined ? 'fixed' : this.window.samples >= WINDOW_MIN_SAMPLES ? `p${Math.round(this.config.quantile * 100)}` : 'warming-up',
      samples: this.window.samples,
      maxExtraPercent: this.config.maxExtraPercent,
      budgetTokens: this.budget.available,
      budgetDenied: this.budget.denied,
      hedges: this.hedges,
      wins: this.wins,
    };
  }
}

const byGroup = new WeakMap<object, GroupHedge>();

/** The hedging state of a replica set (created on first use). */
export function groupHedgeOf(set: { name: string; config: UpstreamConfig }): GroupHedge {
  let h = byGroup.get(set);
  if (!h) {
    h = new GroupHedge(set.name, set.config.hedge);
    byGroup.set(set, h);
  }
  return h;
}

/**
 * How late a node's good answer may come before it counts as slow for the node's breaker
 * (Breaker.recordSlow): the group's hedge delay, the point from which the proxy would rather have
 * asked another node. Undefined when there is no other node to prefer (hedging off, one node).
 */
export function slowAfterMs(set: { name: string; config: UpstreamConfig; all: readonly unknown[] }): number | undefined {
  if (!set.config.hedge.enabled || set.all.length < 2) return undefined;
  return groupHedgeOf(set).delayMs();
}
