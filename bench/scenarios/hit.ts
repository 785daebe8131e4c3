// (a) Cache hit: one pinned `POST /v1/view?ledger_version=N`, answered from L1 every time, against
// a bare node:http server sending the very same bytes (the ceiling for a Node proxy), and nginx
// proxy_cache as a reference. In profile mode (--profile a) the bare server and the proxy both run
// under --cpu-prof (no nginx), so their per-request costs can be compared function by function.
import { aggregate, fmtRatio, goal, loadTable, measure, roundRatios, type Aggregate, type Ctx, type Goal, type Section } from '../lib/bench.js';
import { header, httpRequest, type Child } from '../lib/proc.js';
import { join } from 'node:path';
import { mainThreadProfile, startBare, startMock, startNginx, startProxy, type CpuProfileOption } from '../lib/stack.js';
import { JSON_HEADERS, viewBody, type Workload } from '../lib/workloads.js';

export async function scenarioHit(ctx: Ctx): Promise<Section> {
  const profiling = ctx.opts.profile === 'a';
  const children: Child[] = [];
  const stamp = Date.now();
  const prof = (who: string): CpuProfileOption | undefined => (profiling ? { dir: join(ctx.opts.profileDir, `${who}-a-${stamp}`) } : undefined);
  const mock = await startMock(ctx.env, { latencyMs: 0 });
  children.push(mock.child);
  try {
    const proxyProf = prof('proxy');
    const proxy = await startProxy(ctx.env, { mockOrigin: mock.origin, cpuProfile: proxyProf });
    children.push(proxy.child);
    const lv = (await mock.calls()).aptos_version - 1000;
    const path = `/v1/view?ledger_version=${lv}`;
    const body = viewBody('0x1');
    const workload: Workload = { kind: 'fixed', method: 'POST', path, headers: JSON_HEADERS, body };
    const send = (origin: string) => httpRequest(`${origin}${path}`, { method: 'POST', headers: JSON_HEADERS, body });
    const miss = await send(proxy.origin);
    const hit = await send(proxy.origin);
    if (miss.status !== 200 || header(hit, 'x-cache') !== 'HIT') {
      throw new Error(`proxy did not cache the view: ${miss.status} ${header(miss, 'x-cache')} then ${hit.status} ${header(hit, 'x-cache')}`);
    }
    const targets: Array<{ name: string; origin: string; pid: number; runs: Aggregate['runs'] }> = [];
    const bareProf = prof('bare');
    const bare = await startBare(ctx.env, { status: hit.status, headers: hit.headers, body: hit.body.toString('base64') }, bareProf);
    children.push(bare.child);
    targets.push({ name: 'bare node:http (same bytes)', origin: bare.origin, pid: bare.child.pid, runs: [] });
    targets.push({ name: 'ledgerproxy (L1 hit)', origin: proxy.origin, pid: proxy.child.pid, runs: [] });
    let nginxNote = 'nginx: not installed or disabled (--no-nginx)';
    if (!profiling && ctx.opts.useNginx) {
      const nginx = await startNginx(ctx.env, mock.origin);
      if (nginx) {
        children.push(nginx.child);
        await send(nginx.origin);
        const nhit = await send(nginx.origin);
        nginxNote = `nginx (1 worker): X-Cache ${header(nhit, 'x-cache') ?? '?'} on the second request (key: method|uri|body)`;
        targets.push({ name: 'nginx proxy_cache (reference)', origin: nginx.origin, pid: nginx.child.pid, runs: [] });
      }
    }
    const before = await mock.calls();
    for (let round = 0; round < ctx.opts.rounds; round++) {
      ctx.log(`  round ${round + 1}/${ctx.opts.rounds}`);
      for (const t of targets) t.runs.push(await measure(ctx, t.origin, workload, t.name, t.pid));
    }
    const after = await mock.calls();
    const rows = targets.map((t) => ({ name: t.name, agg: aggregate(t.runs) }));
    const bareRow = rows.find((r) => r.name.startsWith('bare'));
    const proxyRow = rows.find((r) => r.name.startsWith('ledgerproxy'));
    const lines = [
      `Workload: \`POST ${path}\` with a fixed ${body.length}-byte body, no Accept-Encoding; the answer is ${hit.body.length} bytes of body and`,
      `${hit.headers.length} response headers. The bare server reads the request body and replays the proxy's hit response byte for byte.`,
      `${nginxNote}. Node calls made by the mock during the measured runs: ${after.view - before.view} (every answer came from cache).`,
      '"server CPU µs/req" is the user+system CPU time of the server process (nginx: master + worker) over the measured run divided by',
      'its requests: what one request costs the server, which CPU contention on this shared machine changes far less than req/s.',
      '',
      ...loadTable(rows, 'bare'),
      '',
    ];
    const goals: Goal[] = [];
    if (bareRow && proxyRow) {
      const rps = proxyRow.agg.rps / bareRow.agg.rps;
      const p99 = proxyRow.agg.p99ms / bareRow.agg.p99ms;
      const cpu = (proxyRow.agg.cpuUsPerReq ?? NaN) / (bareRow.agg.cpuUsPerReq ?? NaN);
      lines.push(`Per-round proxy/bare req/s: ${roundRatios(proxyRow.agg, bareRow.agg)}. CPU per request, proxy/bare: ${fmtRatio(cpu)}.`, '');
      goals.push(goal('(a) hit req/s ≥ 0.85 × bare', rps >= 0.85, `${fmtRatio(rps)} (CPU per request ${fmtRatio(cpu)} bare)`));
      goals.push(goal('(a) hit p99 ≤ 1.5 × bare p99', p99 <= 1.5, `${fmtRatio(p99)}`));
    }
    const section: Section = { id: 'a', title: '(a) Cache hit — pinned view, proxy vs bare node:http', lines, goals };
    if (profiling && proxyProf && bareProf && bareRow && proxyRow) {
      const served = await proxy.requestsServed();
      await Promise.all([proxy.child.stop('SIGTERM', 15_000), bare.child.stop('SIGTERM', 15_000)]);
      const requests = (a: Aggregate) => a.runs.reduce((s, r) => s + r.requests + (r.warmupRequests ?? 0), 0);
      section.profiles = [
        { label: 'bare node:http server (the ceiling)', file: mainThreadProfile(bareProf.dir), requests: requests(bareRow.agg) },
        { label: 'ledgerproxy, L1 hit path', file: mainThreadProfile(proxyProf.dir), requests: served },
      ];
    }
    return section;
  } finally {
    await Promise.all(children.map((c) => c.stop('SIGTERM', 15_000)));
  }
}
