// (c) Cold herd: 500 identical requests for a key nobody asked for yet, sent at once over 500 open
// connections, node at 50 ms. The node must see exactly one call; followers should wait no longer
// than the leader. nginx with proxy_cache_lock as a reference.
import { fmtMs, fmtRatio, freshTag, goal, type Ctx, type Goal, type Section } from '../lib/bench.js';
import { runLoad } from '../lib/driver.js';
import { startBaselines } from '../lib/baseline.js';
import { HerdClient, median, percentile, processCpuMs, type HerdAnswer } from '../lib/herd.js';
import { sleep, type Child } from '../lib/proc.js';
import { startMock, startNginx, startProxy, type Mock } from '../lib/stack.js';
import { startVarnish } from '../lib/varnish.js';
import { JSON_HEADERS, viewBody } from '../lib/workloads.js';

export const HERD_SIZE = 500;
export const HERD_LATENCY_MS = 50;
const VARNISH_HERD = 'Varnish waiting list (reference)';

interface Round {
  upstream: number;
  leaderMs: number;
  followerP50: number;
  followerP99: number;
  followerMax: number;
  sendSpreadMs: number;
  labels: string;
  bad: number;
  /** Connections the client had to open for this herd (0: all 500 went over the warmed ones). */
  newConnections: number;
  /** CPU the target's process used from the first send to the last answer, ms (main thread, all threads); NaN when not known. */
  cpuMs: { main: number; all: number };
}

interface Target {
  name: string;
  origin: string;
  warm: string;
  /** The target's process, for its CPU per herd (node targets: one process does all the work). */
  pid?: number;
}

async function herdRound(mock: Mock, client: HerdClient, path: string, pid: number | undefined): Promise<Round> {
  const body = viewBody(`0x${freshTag()}`);
  await mock.reset();
  const connectsBefore = client.connects;
  const cpuBefore = pid === undefined ? undefined : processCpuMs(pid);
  const answers = await client.fire({ method: 'POST', path, headers: JSON_HEADERS, body });
  const cpuAfter = pid === undefined ? undefined : processCpuMs(pid);
  const cpuMs = cpuBefore && cpuAfter ? { main: cpuAfter.main - cpuBefore.main, all: cpuAfter.all - cpuBefore.all } : { main: NaN, all: NaN };
  await sleep(200);
  const upstream = (await mock.calls()).view;
  const misses = answers.filter((a) => a.xCache === 'MISS').sort((x, y) => x.sentAt - y.sentAt);
  const leader: HerdAnswer | undefined = misses[0];
  const followers = answers.filter((a) => a !== leader).map((a) => a.ms).sort((x, y) => x - y);
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a.xCache || '(none)', (counts.get(a.xCache || '(none)') ?? 0) + 1);
  const bodies = new Set(answers.map((a) => a.body));
  return {
    upstream,
    leaderMs: leader?.ms ?? NaN,
    followerP50: percentile(followers, 50),
    followerP99: percentile(followers, 99),
    followerMax: followers[followers.length - 1] ?? NaN,
    sendSpreadMs: Math.max(...answers.map((a) => a.sentAt)),
    labels: [...counts].map(([k, v]) => `${k} ${v}`).join(', ') + (bodies.size === 1 ? '' : ` (${bodies.size} distinct bodies!)`),
    bad: answers.filter((a) => a.status !== 200).length,
    newConnections: client.connects - connectsBefore,
    cpuMs,
  };
}

function fmtCpu(c: { main: number; all: number }): string {
  return Number.isNaN(c.main) ? '—' : `${fmtMs(c.main)} / ${fmtMs(c.all)}`;
}

export async function scenarioHerd(ctx: Ctx): Promise<Section> {
  const children: Child[] = [];
  const clients: HerdClient[] = [];
  const mock = await startMock(ctx.env, { latencyMs: HERD_LATENCY_MS });
  children.push(mock.child);
  try {
    const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin });
    children.push(proxy.child);
    const lv = (await mock.calls()).aptos_version - 1000;
    const path = `/v1/view?ledger_version=${lv}`;
    const targets: Target[] = [{ name: 'ledgerproxy', origin: proxy.origin, warm: '/__warm', pid: proxy.child.pid }];
    for (const base of await startBaselines(ctx, mock.origin)) {
      children.push(base.child);
      targets.push({ name: base.name, origin: base.origin, warm: '/__warm', pid: base.child.pid });
    }
    if (ctx.opts.useNginx) {
      const nginx = await startNginx(ctx.env, mock.origin);
      if (nginx) {
        children.push(nginx.child);
        targets.push({ name: 'nginx proxy_cache_lock (reference)', origin: nginx.origin, warm: '/__warm' });
      }
    }
    if (ctx.opts.useVarnish) {
      const varnish = await startVarnish(ctx.env, mock.origin);
      if (varnish) {
        children.push(varnish.child);
        targets.push({ name: VARNISH_HERD, origin: varnish.origin, warm: '/__warm' });
      }
    }
    // At least 3 herds per target (--rounds asks for more): one herd is one sample of a noisy figure.
    const rounds = ctx.opts.quick ? 1 : Math.max(3, ctx.opts.rounds);
    const results = new Map<string, Round[]>();
    // A cold key, not a cold process: each target's code paths are warmed first (node at 0 ms,
    // distinct keys), then one herd per target that is not counted. The counted rounds take the
    // targets in turn (round 1 of each, then round 2 of each, ...): a machine that gets busier or
    // quieter during the run weighs on every target alike, not on whichever ran last.
    const clientOf = new Map<string, HerdClient>();
    await mock.setLatency(0);
    for (const t of targets) {
      // The proxy answers /__warm itself (no route: 404), nginx and Varnish with a 204: connections open, no node call.
      const client = new HerdClient(t.origin, HERD_SIZE);
      clients.push(client);
      clientOf.set(t.name, client);
      await client.warm(t.warm);
      await runLoad(ctx.driver, ctx.env, { origin: t.origin, workload: { kind: 'view-distinct', path, tag: freshTag() }, connections: ctx.opts.connections, durationSec: Math.max(1, ctx.opts.warmupSec) });
      results.set(t.name, []);
    }
    await mock.setLatency(HERD_LATENCY_MS);
    for (const t of targets) await herdRound(mock, clientOf.get(t.name) as HerdClient, path, t.pid);
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const round = await herdRound(mock, clientOf.get(t.name) as HerdClient, path, t.pid);
        ctx.log(`    ${t.name.padEnd(36)} round ${r + 1}: node calls ${round.upstream}, leader ${fmtMs(round.leaderMs)} ms, follower p50 ${fmtMs(round.followerP50)} ms p99 ${fmtMs(round.followerP99)} ms, CPU ${fmtCpu(round.cpuMs)} ms, new conns ${round.newConnections} [${round.labels}]`);
        results.get(t.name)?.push(round);
      }
    }
    const lines = [
      `Workload: ${HERD_SIZE} identical \`POST ${path}\` (a fresh argument per round, so the key is cold) sent at once over`,
      `${HERD_SIZE} pre-opened keep-alive connections (undici Pool in the orchestrator); the mock answers after ${HERD_LATENCY_MS} ms.`,
      `Before the counted rounds each target is warmed (${Math.max(1, ctx.opts.warmupSec)} s of distinct views with the node at 0 ms, then one uncounted herd).`,
      'Each latency is timed from that request\'s own send; the leader is the answer with X-Cache MISS. "Send spread" is the time',
      `from the first to the last send of a round. ${rounds} round(s) per target, taken in turn (round 1 of every target, then round 2, ...); the table shows each round.`,
      '"New conns": connections the client opened during the herd (0: every request went over a warmed keep-alive connection).',
      '"CPU ms": CPU time of the target\'s process from the first send to the last answer, main thread / all threads (node targets only;',
      'the main thread runs all of a node process\'s JavaScript, the other threads are mostly V8\'s GC helpers).',
      '',
      '| target | round | node calls | leader ms | follower p50 ms | follower p99 ms | follower max ms | p50 / leader | send spread ms | CPU ms main / all | new conns | X-Cache |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ];
    for (const [name, list] of results) {
      list.forEach((r, i) => {
        lines.push(`| ${name} | ${i + 1} | ${r.upstream} | ${fmtMs(r.leaderMs)} | ${fmtMs(r.followerP50)} | ${fmtMs(r.followerP99)} | ${fmtMs(r.followerMax)} | ${fmtRatio(r.followerP50 / r.leaderMs)} | ${fmtMs(r.sendSpreadMs)} | ${fmtCpu(r.cpuMs)} | ${r.newConnections} | ${r.labels}${r.bad ? `, ${r.bad} non-200` : ''} |`);
      });
    }
    lines.push('');
    const goals: Goal[] = [];
    const mine = results.get('ledgerproxy') ?? [];
    if (mine.length > 0) {
      const calls = mine.map((r) => r.upstream);
      goals.push(goal('(c) herd: exactly 1 node call per herd', calls.every((c) => c === 1) && mine.every((r) => r.bad === 0), `node calls per round: ${calls.join(', ')}`));
      const ratios = mine.map((r) => r.followerP50 / r.leaderMs);
      goals.push(goal('(c) herd: follower p50 ≤ 1.2 × leader latency', ratios.every((x) => x <= 1.2), `p50/leader per round: ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)})`));
      // Issue 12: the followers of a herd wait no longer than Varnish's (waiting list), same run.
      const varnish = results.get(VARNISH_HERD) ?? [];
      if (varnish.length > 0) {
        const own = median(mine.map((r) => r.followerP50));
        const ref = median(varnish.map((r) => r.followerP50));
        goals.push(goal('(c) herd: follower p50 ≤ Varnish follower p50', own <= ref, `${fmtMs(own)} vs ${fmtMs(ref)} ms (median of rounds, ${fmtRatio(own / ref)}); Varnish node calls per round: ${varnish.map((r) => r.upstream).join(', ')}`));
      }
    }
    return { id: 'c', title: `(c) Cold herd — ${HERD_SIZE} identical concurrent requests, node at ${HERD_LATENCY_MS} ms`, lines, goals };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}
