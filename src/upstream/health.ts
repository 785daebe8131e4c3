// Outcomes of real traffic and of the head probes feed each node's circuit breaker (breaker.ts).
// This module turns outcomes into breaker records and breaker transitions into the node_healthy
// gauge and one log line per transition (not per request).
import { componentLogger } from '../log.js';
import type { ProxyError } from '../errors.js';
import { nodeHealthy } from '../metrics/metrics.js';
import type { UpstreamNode } from './node.js';

const log = componentLogger('health');

/** Statuses that mean "this node cannot answer now", as opposed to "the request was bad". */
export function isNodeFailureStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

export function recordSuccess(node: UpstreamNode, now: number): void {
  report(node, node.breaker.record(true, now));
}

export function recordFailure(node: UpstreamNode, now: number, reason: ProxyError | number): void {
  const change = node.breaker.record(false, now);
  if (change?.to === 'open') {
    const why = typeof reason === 'number' ? `status ${reason}` : reason.code;
    log.warn({ group: node.group, node: node.name, failures: node.breaker.consecutiveFailures, failureRate: node.breaker.failureRate, reason: why }, 'breaker open: node out of rotation');
  }
  report(node, change);
}

/**
 * A good answer that came after the hedge delay (Breaker.recordSlow). A node slow on every read
 * leaves the rotation by its window's rate: the hedge budget alone cannot cover a replica that is
 * given a third of the reads, and a slow node that keeps answering would otherwise stay in.
 */
export function recordSlow(node: UpstreamNode, now: number, headersMs: number): void {
  const change = node.breaker.recordSlow(now);
  if (change?.to === 'open') {
    log.warn({ group: node.group, node: node.name, failureRate: node.breaker.failureRate, headersMs: Math.round(headersMs), reason: 'slow' }, 'breaker open: node out of rotation');
  }
  report(node, change);
}

/**
 * Whether a good answer from `node` is late against it: its headers came after `slowAfter` (the
 * hedge delay; undefined: nothing is late), and another node of the group is in rotation.
 * Lateness is a reason to prefer another node; with none left (or all of them late, as when the
 * proxy itself is overloaded) it must not empty the rotation.
 */
export function answeredLate(node: UpstreamNode, peers: readonly UpstreamNode[], headersMs: number | undefined, slowAfter: number | undefined): boolean {
  if (slowAfter === undefined || headersMs === undefined || headersMs <= slowAfter) return false;
  for (const peer of peers) if (peer !== node && peer.healthy) return true;
  return false;
}

/** An attempt that ended without an outcome for the node (see Breaker.release). */
export function recordNeutral(node: UpstreamNode, now: number): void {
  node.breaker.release(now);
}

/** A good answer to the active probe is proof enough that an out-of-rotation node is back. */
export function recordProbeSuccess(node: UpstreamNode, now: number): void {
  report(node, node.breaker.closeAfterProbe(now));
}

function report(node: UpstreamNode, change: { from: string; to: string } | undefined): void {
  if (!change) return;
  nodeHealthy.set({ group: node.group, node: node.name }, change.to === 'open' ? 0 : 1);
  if (change.to === 'closed') log.info({ group: node.group, node: node.name }, 'breaker closed: node back in rotation');
}
