// Starts a real ledgerproxy in this process on free ports, from YAML text, the way main.ts does.
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { logger } from '../../src/log.js';
import { startProxy, type RunningProxy } from '../../src/server/lifecycle.js';
import { ProxyState } from '../../src/server/state.js';

export interface TestProxy {
  url: string;
  adminUrl: string;
  state: ProxyState;
  running: RunningProxy;
  config: Config;
  close(): Promise<void>;
}

export async function startTestProxy(yaml: string, opts: { configFile?: string; waitForHeads?: boolean } = {}): Promise<TestProxy> {
  const text = /^server:/m.test(yaml) ? yaml : `server:\n  listen: 127.0.0.1:0\n  admin: 127.0.0.1:0\n  shutdown: { drainDelayMs: 0, deadlineMs: 2000 }\n${yaml}`;
  const config = parseConfigText(text, 'test-config');
  const log = logger.child({ test: true });
  log.level = process.env['TEST_LOG_LEVEL'] ?? 'silent';
  const state = new ProxyState(config, log);
  const running = await startProxy(state, opts.configFile, log);
  // Shared (L2) entries are used once a group knows its chain: wait for the first round of asking
  // (so its probes do not land in the middle of a test's call counts), learned or not.
  await Promise.all([...state.runtime.groups.values()].map((g) => g.chain.asked()));
  if (opts.waitForHeads !== false) {
    await Promise.all([...state.runtime.groups.values()].map((g) => g.heads.pollAll()));
  }
  await redisReady(state);
  return {
    url: `http://127.0.0.1:${running.trafficPort}`,
    adminUrl: `http://127.0.0.1:${running.adminPort}`,
    state,
    running,
    config,
    close: () => running.shutdown(),
  };
}

/**
 * The L2 store keeps no offline queue: until its connection is ready every lookup is a miss, as it
 * should be in production. A test that expects a shared HIT must not race the connect, so the
 * harness waits for it (bounded; a test that stops Redis on purpose starts without it).
 */
async function redisReady(state: ProxyState): Promise<void> {
  const remote = state.cache.remote as { connected?: boolean } | undefined;
  if (remote?.connected === undefined) return;
  for (let i = 0; i < 200 && !remote.connected; i++) await new Promise((r) => setTimeout(r, 10));
}
