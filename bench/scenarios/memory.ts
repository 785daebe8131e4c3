// (e) Memory: 1,000,000 requests over 100,000 distinct keys (account resources pinned to one
// version, ~2 KiB each) with cache.memory.maxBytes 64 MiB, so the LRU has to evict. RSS of the
// proxy process is sampled from /proc every second; the run is bounded in time.
import { runLoad, type LoadResult } from '../lib/driver.js';
import { fmtMs, fmtRps, goal, mib, type Ctx, type Section } from '../lib/bench.js';
import { type Child } from '../lib/proc.js';
import { imageNodeOptions } from '../lib/image-heap.js';
import { startMock, startProxy } from '../lib/stack.js';

const MAX_BYTES = 64 * 1024 * 1024;
const RSS_LIMIT = 256 * 1024 * 1024;
const RESOURCES_BYTES = 2048;

interface Sample {
  t: number;
  rss: number;
}

/** Least-squares growth over the samples, as bytes over their time span. */
function growth(samples: Sample[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const mt = samples.reduce((s, x) => s + x.t, 0) / n;
  const mr = samples.reduce((s, x) => s + x.rss, 0) / n;
  let num = 0;
  let den = 0;
  for (const x of samples) {
    num += (x.t - mt) * (x.rss - mr);
    den += (x.t - mt) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  return slope * ((samples[n - 1]?.t ?? 0) - (samples[0]?.t ?? 0));
}

export async function scenarioMemory(ctx: Ctx): Promise<Section> {
  const total = Number(process.env['BENCH_MEM_REQUESTS'] ?? (ctx.opts.quick ? 40_000 : 1_000_000));
  const keys = Number(process.env['BENCH_MEM_KEYS'] ?? (ctx.opts.quick ? 4_000 : 100_000));
  const maxSec = Number(process.env['BENCH_MEM_MAX_SEC'] ?? (ctx.opts.quick ? 15 : 600));
  const chunkSec = ctx.opts.quick ? 2 : 5;
  // Protects the (shared) machine: a proxy that outgrows this is stopped, and the goal fails.
  const abortRss = Number(process.env['BENCH_MEM_ABORT_MIB'] ?? 1024) * 1024 * 1024;
  const children: Child[] = [];
  const mock = await startMock(ctx.env, { latencyMs: 0, resourcesBytes: RESOURCES_BYTES });
  children.push(mock.child);
  let timer: NodeJS.Timeout | undefined;
  try {
    const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin, maxBytes: MAX_BYTES });
    children.push(proxy.child);
    const lv = (await mock.calls()).aptos_version - 1000;
    const startRss = proxy.memory()?.rss ?? NaN;
    const samples: Sample[] = [];
    const t0 = Date.now();
    let aborted = false;
    timer = setInterval(() => {
      const m = proxy.memory();
      if (m) samples.push({ t: (Date.now() - t0) / 1000, rss: m.rss });
      if (m && m.rss > abortRss) aborted = true;
    }, 1000);
    await mock.reset();
    const runs: LoadResult[] = [];
    let done = 0;
    while (done < total && (Date.now() - t0) / 1000 < maxSec && !aborted) {
      const r = await runLoad(ctx.driver, ctx.env, {
        origin: proxy.origin,
        workload: { kind: 'resources-random', ledgerVersion: lv, keys },
        connections: ctx.opts.connections,
        durationSec: chunkSec,
      });
      runs.push(r);
      done += r.requests;
      const m = proxy.memory();
      ctx.log(`    ${done.toLocaleString('en-US').padStart(10)} requests, ${fmtRps(r.rps)} req/s, RSS ${m ? mib(m.rss) : 'n/a'}`);
    }
    clearInterval(timer);
    timer = undefined;
    const seconds = (Date.now() - t0) / 1000;
    const end = proxy.memory();
    const nodeCalls = (await mock.calls()).resources;
    const status = await proxy.status();
    const metricRss = await proxy.metric('ledgerproxy_process_resident_memory_bytes');
    const heap = await proxy.metric('ledgerproxy_nodejs_heap_size_used_bytes');
    const external = await proxy.metric('ledgerproxy_nodejs_external_memory_bytes');
    const maxSampled = Math.max(...samples.map((s) => s.rss));
    const hwm = end?.hwm ?? NaN;
    const half = samples.filter((s) => s.t >= seconds / 2);
    const lastMin = Math.min(...half.map((s) => s.rss));
    const lastMax = Math.max(...half.map((s) => s.rss));
    const g = growth(half);
    const meanLast = half.reduce((s, x) => s + x.rss, 0) / Math.max(1, half.length);
    const flat = half.length >= 3 && g <= 0.05 * meanLast;
    const non2xx = runs.reduce((s, r) => s + r.non2xx + r.errors, 0);
    const p99 = Math.max(...runs.map((r) => r.p99ms));
    const complete = done >= total;
    const stopNote = aborted ? ` (stopped: RSS passed ${mib(abortRss)})` : complete ? '' : ' (time bound hit)';
    const lines = [
      `Workload: \`GET /v1/accounts/{one of ${keys.toLocaleString('en-US')} addresses}/resources?ledger_version=${lv}\`, addresses uniformly at random,`,
      `${RESOURCES_BYTES}-byte answers (random hex, so gzip saves only part), \`cache.memory.maxBytes\` ${mib(MAX_BYTES)}; ${ctx.opts.connections} connections,`,
      `driven in ${chunkSec} s chunks until ${total.toLocaleString('en-US')} requests (bounded at ${maxSec} s, and stopped if RSS passes ${mib(abortRss)}).`,
      `The proxy runs with the image's heap setting \`NODE_OPTIONS=${imageNodeOptions(ctx.env.root).value}\` (from the ${imageNodeOptions(ctx.env.root).source}).`,
      'RSS from /proc/PID/status every second; VmHWM is the kernel\'s peak RSS of the process; the trend is the least-squares slope over the',
      'second half of the samples, as growth over that half.',
      '',
      '| requests | seconds | req/s | worst chunk p99 ms | node calls (misses) | cache entries / bytes at end | RSS start | RSS max sampled | VmHWM (peak) | RSS end | RSS last half min–max | last-half trend |',
      '|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|',
      `| ${done.toLocaleString('en-US')}${stopNote} | ${seconds.toFixed(0)} | ${fmtRps(done / seconds)} | ${fmtMs(p99)} | ${nodeCalls.toLocaleString('en-US')} (${((100 * nodeCalls) / Math.max(1, done)).toFixed(0)} %) | ${status.cache.memory.entries.toLocaleString('en-US')} / ${mib(status.cache.memory.bytes)} | ${mib(startRss)} | ${mib(maxSampled)} | ${mib(hwm)} | ${mib(end?.rss ?? NaN)} | ${mib(lastMin)} – ${mib(lastMax)} | ${g >= 0 ? '+' : ''}${mib(g)} |`,
      '',
      `Cross-check from the proxy's /metrics at the end: \`ledgerproxy_process_resident_memory_bytes\` ${metricRss === undefined ? 'n/a' : mib(metricRss)}, JS heap used ${heap === undefined ? 'n/a' : mib(heap)},`,
      `external (Buffers) ${external === undefined ? 'n/a' : mib(external)}. ${non2xx} non-2xx / errors.`,
      `RSS samples (MiB, every ~${Math.max(1, Math.round(samples.length / 20))} s): ${samples.filter((_, i) => i % Math.max(1, Math.round(samples.length / 20)) === 0).map((s) => (s.rss / 1048576).toFixed(0)).join(' ')}`,
      '',
    ];
    const goals = [
      goal('(e) memory: RSS ≤ 256 MiB', Math.max(maxSampled, hwm) <= RSS_LIMIT && complete, `peak ${mib(Math.max(maxSampled, hwm))}${complete ? '' : `; only ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} requests${stopNote}`}`),
      goal('(e) memory: RSS flat over the last half', flat, `trend ${g >= 0 ? '+' : ''}${mib(g)} over the last half (≤ 5 % of ${mib(meanLast)} is flat)`),
    ];
    return { id: 'e', title: `(e) Memory — ${total.toLocaleString('en-US')} requests over ${keys.toLocaleString('en-US')} keys, maxBytes 64 MiB`, lines, goals };
  } finally {
    if (timer) clearInterval(timer);
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}
