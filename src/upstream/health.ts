// Passive health: outcomes of real traffic move a node in and out of rotation. A node that fails
// `ejectAfterFailures` times in a row leaves the rotation; the head monitor keeps probing it and
// puts it back on its first good answer. (The rolling-window circuit breaker builds on this.)
import { componentLogger } from '../log.js';
import type { ProxyError } from '../errors.js';
import type { UpstreamNode } from './node.js';

const log = componentLogger('health');

/** Statuses that mean "this node cannot answer now", as opposed to "the request was bad". */
export function isNodeFailureStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

export function recordSuccess(node: UpstreamNode, now: number): void {
  node.consecutiveFailures = 0;
  if (node.ejected) {
    node.setHealthy(true, now);
    log.info({ group: node.group, node: node.name }, 'node back in rotation');
  }
}

export function recordFailure(node: UpstreamNode, ejectAfter: number, now: number, reason: ProxyError | number): void {
  node.consecutiveFailures++;
  if (!node.ejected && node.consecutiveFailures >= ejectAfter) {
    node.setHealthy(false, now);
    const why = typeof reason === 'number' ? `status ${reason}` : reason.code;
    log.warn({ group: node.group, node: node.name, failures: node.consecutiveFailures, reason: why }, 'node taken out of rotation');
  }
}
