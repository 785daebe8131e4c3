// Start, reload and drain. SIGTERM: /readyz turns 503 at once; new connections are still accepted
// for drainDelayMs (the endpoint is being removed from the Service meanwhile, and requests routed
// before that must not be refused); then the listener closes, in-flight requests may finish until
// deadlineMs, idle keep-alive connections are closed, open WebSocket tunnels are closed when the
// listener closes (an open subscription never ends by itself: waiting for it would only hold the
// exit until the deadline; its client reconnects to an instance still in the Service), pools and
// Redis are closed, exit 0. A second
// SIGTERM or SIGINT exits at once. SIGHUP re-reads the config file; an invalid one is refused and
// the running config stays. A valid one is in force for every request that starts after it;
// requests already running finish on the runtime they leased, which closes after the last of them
// (at the latest after shutdown.deadlineMs).
import type { Server } from 'node:http';
import { loadConfigFile } from '../config/load.js';
import { configReloadsTotal } from '../metrics/metrics.js';
import type { Logger } from '../log.js';
import { createAdminServer } from './admin-server.js';
import { listen } from './listen.js';
import type { ProxyState } from './state.js';
import { createTrafficServer } from './traffic-server.js';
import { tunnelsOf } from '../upstream/upgrade-relay.js';

export interface RunningProxy {
  traffic: Server;
  admin: Server;
  trafficPort: number;
  adminPort: number;
  reload(): Promise<{ ok: boolean; error?: string }>;
  shutdown(): Promise<void>;
}

export async function startProxy(state: ProxyState, configFile: string | undefined, log: Logger): Promise<RunningProxy> {
  const reload = async () => reloadConfig(state, configFile, log);
  const traffic = createTrafficServer(state);
  const admin = createAdminServer(state, { reload });
  state.start();
  const cfg = state.runtime.config.server;
  const t = await listen(traffic, cfg.listen);
  const a = await listen(admin, cfg.admin);
  log.info({ listen: `${t.host}:${t.port}`, admin: `${a.host}:${a.port}` }, 'ledgerproxy listening');
  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => (shuttingDown ??= drain(state, traffic, admin, log));
  return { traffic, admin, trafficPort: t.port, adminPort: a.port, reload, shutdown };
}

async function reloadConfig(state: ProxyState, file: string | undefined, log: Logger): Promise<{ ok: boolean; error?: string }> {
  if (!file) return { ok: false, error: 'no config file to reload (running on an in-memory config)' };
  try {
    const next = loadConfigFile(file);
    await state.replaceRuntime(next);
    configReloadsTotal.inc({ result: 'ok' });
    log.info({ file }, 'config reloaded');
    return { ok: true };
  } catch (err) {
    configReloadsTotal.inc({ result: 'error' });
    log.error({ file, err: (err as Error).message }, 'config reload refused; the running config stays');
    return { ok: false, error: (err as Error).message };
  }
}

async function drain(state: ProxyState, traffic: Server, admin: Server, log: Logger): Promise<void> {
  const { drainDelayMs, deadlineMs } = state.runtime.config.server.shutdown;
  state.draining = true;
  log.info({ drainDelayMs, deadlineMs }, 'draining: readiness is now 503');
  await sleep(drainDelayMs);
  await acceptQueued(traffic);
  const closed = new Promise<void>((resolve) => traffic.close(() => resolve()));
  const tunnels = tunnelsOf(traffic).closeAll();
  if (tunnels > 0) log.info({ tunnels }, 'draining: closed open WebSocket tunnels');
  traffic.closeIdleConnections();
  const timer = setInterval(() => traffic.closeIdleConnections(), 250);
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => { deadlineTimer = setTimeout(() => resolve('deadline'), deadlineMs); });
  const outcome = await Promise.race([closed.then(() => 'done' as const), deadline]);
  // A drain that finished early must not keep the process (or a test runner) alive until the deadline.
  clearTimeout(deadlineTimer);
  clearInterval(timer);
  if (outcome === 'deadline') {
    log.warn('drain deadline reached; closing remaining connections');
    traffic.closeAllConnections();
    tunnelsOf(traffic).closeAll();
  }
  admin.closeAllConnections();
  await new Promise<void>((resolve) => admin.close(() => resolve()));
  await state.close();
  log.info('drained; bye');
}

export function installSignals(proxy: RunningProxy, log: Logger): void {
  let terminating = false;
  const onTerm = (signal: string) => {
    if (terminating) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    terminating = true;
    log.info({ signal }, 'shutdown requested');
    proxy.shutdown().then(() => process.exit(0), (err: Error) => {
      log.error({ err: err.message }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => onTerm('SIGTERM'));
  process.on('SIGINT', () => onTerm('SIGINT'));
  process.on('SIGHUP', () => void proxy.reload());
}

/** How long, at most, the listener stays open after the drain delay to take queued connections. */
const ACCEPT_QUEUED_MS = 1_000;

/**
 * Connections the kernel completed while the loop was busy (a loaded process, the end of the drain
 * delay) wait in its accept queue, and node takes about one per loop turn. Closing the listener
 * straight from the delay's timer resets them, and node:http closes an accepted connection whose
 * request it has not read yet as idle, although the client connected during the delay. So the
 * loop turns until a turn accepts nothing, for ACCEPT_QUEUED_MS at most (clients that keep
 * connecting would otherwise hold the listener open).
 */
async function acceptQueued(server: Server): Promise<void> {
  let accepted = 0;
  const onConnection = (): void => void accepted++;
  server.on('connection', onConnection);
  const until = Date.now() + ACCEPT_QUEUED_MS;
  try {
    for (let seen = -1; seen !== accepted && Date.now() < until; ) {
      seen = accepted;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    server.off('connection', onConnection);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
