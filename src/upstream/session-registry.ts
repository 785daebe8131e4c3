// Which node opened which Neo iterator session. Sessions live in one node's memory, so every call
// continuing one (traverseiterator, terminatesession) must go to that node. The map outlives config
// reloads (ProxyState holds it; a reload rebuilds replica sets and their node objects): it maps
// to the node's *name* within its group, resolved against the current replica set, so a session
// opened before a reload is still found after it as long as the node keeps its place in the config.
// Bounded; entries expire after the longest session lifetime a node is configured with by default.
import { LRUCache } from 'lru-cache';

const MAX_SESSIONS = 10_000;
const SESSION_TTL_MS = 10 * 60_000;

export class SessionRegistry {
  private readonly sessions = new LRUCache<string, string>({ max: MAX_SESSIONS, ttl: SESSION_TTL_MS });

  remember(group: string, session: string, nodeName: string): void {
    this.sessions.set(keyOf(group, session), nodeName);
  }

  /** The name of the node holding the session, if the proxy saw it opened. */
  nodeFor(group: string, session: string): string | undefined {
    return this.sessions.get(keyOf(group, session));
  }

  get size(): number {
    return this.sessions.size;
  }
}

function keyOf(group: string, session: string): string {
  return `${group.length}:${group}:${session}`;
}
