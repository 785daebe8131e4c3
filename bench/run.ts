// ledgerproxy load benchmarks (issue 5). Entry point: `npx tsx bench/run.ts [options]`.
//
//   --quick              ~2 s per measured run (smoke test); results go to bench/.out/RESULTS-quick.md
//   --only a,c           run only these scenarios (a hit, b miss, c herd, d batch, e memory, f hedge, p pass-through,
//                        s trading-bot SLO)
//   --duration S         seconds per measured run (default 10; env BENCH_DURATION)
//   --rounds N           alternate the targets N times and report medians (default 2, quick 1)
//   --profile a|b|p      run scenario a (hit path), b (miss path) or p (pass-through submits) with the proxy under
//                        `node --cpu-prof` (proxy target only) and print the top self-time functions
//   --driver wrk|autocannon   default: wrk when installed, else autocannon (env BENCH_DRIVER)
//   --no-nginx           skip the nginx reference rows
//   --no-varnish         skip the Varnish reference rows (a, c)
//   --no-build           do not run tsc before starting dist/src/main.js
//   --proxy-runtime dist|tsx  run the proxy from dist/ (default, built first) or src/ through tsx
//   --proxy-entry FILE   run this compiled main.js instead (a candidate build); implies --no-build
//   --out FILE           where to write the results (default bench/RESULTS.md)
//   --strict             exit 2 when a goal fails
//
// Every process (mock node, proxy, bare server, nginx, wrk/autocannon) is its own process bound to
// 127.0.0.1, bounded in time, and killed when the run ends, fails or is interrupted.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Ctx, Goal, RunOptions, ScenarioId, Section } from './lib/bench.js';
import { pickDriver } from './lib/driver.js';
import { killAllSync, liveChildren, stopAll, strayProcesses } from './lib/proc.js';
import { profileMarkdown, summariseProfile } from './lib/profile.js';
import { buildProxy, findNginx } from './lib/stack.js';
import { scenarioBatch } from './scenarios/batch.js';
import { scenarioHedge } from './scenarios/hedge.js';
import { scenarioHerd } from './scenarios/herd.js';
import { scenarioHit } from './scenarios/hit.js';
import { scenarioMemory } from './scenarios/memory.js';
import { scenarioMiss } from './scenarios/miss.js';
import { scenarioPassthrough } from './scenarios/passthrough.js';
import { scenarioSlo } from './scenarios/slo.js';
import { setupHints } from './lib/setup-hints.js';
import { findVarnish } from './lib/varnish.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ALL: ScenarioId[] = ['a', 'b', 'c', 'd', 'e', 'f', 'p', 's'];
const SCENARIOS: Record<ScenarioId, (ctx: Ctx) => Promise<Section>> = {
  a: scenarioHit,
  b: scenarioMiss,
  c: scenarioHerd,
  d: scenarioBatch,
  e: scenarioMemory,
  s: scenarioSlo,
  f: scenarioHedge,
  p: scenarioPassthrough,
};

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env['BENCH_QUICK'] === '1' },
    only: { type: 'string', default: process.env['BENCH_ONLY'] },
    duration: { type: 'string', default: process.env['BENCH_DURATION'] },
    rounds: { type: 'string', default: process.env['BENCH_ROUNDS'] },
    connections: { type: 'string', default: '64' },
    profile: { type: 'string' },
    driver: { type: 'string', default: process.env['BENCH_DRIVER'] },
    'no-nginx': { type: 'boolean', default: false },
    'no-varnish': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'proxy-runtime': { type: 'string', default: 'dist' },
    'proxy-entry': { type: 'string', default: process.env['BENCH_PROXY_ENTRY'] },
    'wrk-threads': { type: 'string', default: '1' },
    out: { type: 'string' },
    strict: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function usage(): string {
  return `usage: npx tsx bench/run.ts [--quick] [--only a,b,c,d,e,f,p,s] [--duration S] [--rounds N] [--profile a|b|d|p]
                         [--driver wrk|autocannon] [--no-nginx] [--no-varnish] [--no-build] [--proxy-runtime dist|tsx] [--proxy-entry FILE]
                         [--out FILE] [--strict]`;
}

function parseOnly(): ScenarioId[] {
  if (args.profile !== undefined) {
    if (!['a', 'b', 'd', 'p'].includes(args.profile)) throw new Error('--profile takes a (hit path), b (miss path), d (batch of new calls) or p (pass-through)');
    return [args.profile as ScenarioId];
  }
  if (args.only === undefined || args.only === '') return ALL;
  const ids = args.only.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const id of ids) if (!ALL.includes(id as ScenarioId)) throw new Error(`--only: unknown scenario ${id} (${ALL.join(' ')})`);
  return ALL.filter((id) => ids.includes(id));
}

function git(argv: string[]): string {
  try {
    return execFileSync('git', argv, { cwd: ROOT, stdio: 'pipe' }).toString().trim();
  } catch {
    return '';
  }
}

function machineLine(driver: string, nginx: string | undefined, varnish?: string): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown CPU';
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  return `${model} × ${cpu.length} CPUs, Linux ${release()}, Node ${process.version}, driver ${driver}${nginx ? `, nginx ${nginx}` : ''}${varnish ? `, Varnish ${varnish}` : ''}; load average at start ${load}`;
}

function render(meta: string[], sections: Section[], ids: ScenarioId[]): string {
  const goals = sections.flatMap((s) => s.goals);
  const out = [
    '# ledgerproxy benchmarks',
    '',
    ...meta,
    '',
    '## Goals',
    '',
    '| goal | result | measured |',
    '|---|:---:|---|',
    ...goals.map((g) => `| ${g.label} | ${g.pass ? 'PASS' : '**FAIL**'} | ${g.detail} |`),
    '',
  ];
  if (ids.length < ALL.length) out.push(`Only scenarios ${ids.join(', ')} were run (\`--only\`).`, '');
  for (const s of sections) out.push(`## ${s.title}`, '', ...s.lines);
  out.push(
    '## How to read this',
    '',
    '- Every figure that matters is a **ratio between targets measured in the same run**, back to back on the same',
    '  machine (2 shared cores here): the absolute req/s move with the neighbours, the ratios much less. Rounds',
    '  alternate the targets; the table shows the median of the rounds.',
    '- All processes are separate: load driver, proxy, mock node, bare server and nginx compete for the same cores, so',
    '  absolute numbers are lower than on a dedicated box, for the reference rows as much as for the proxy.',
    '- Reproduce: `npx tsx bench/run.ts` (all, ~10 min), `--quick` (smoke), `--only a,c`, `--profile a|b|p` (CPU profile',
    '  of the hit / miss / pass-through path, summarised into bench/PROFILE-a.md / PROFILE-b.md / PROFILE-p.md).',
    '- What the numbers mean for the code (profiles, experiments, proposed changes): bench/FINDINGS.md.',
    '',
  );
  return `${out.join('\n')}\n`;
}

async function main(): Promise<number> {
  if (args.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const ids = parseOnly();
  const quick = args.quick === true;
  const durationSec = Number(args.duration ?? (quick ? 2 : 10));
  const rounds = Number(args.rounds ?? (quick || args.profile ? 1 : 2));
  const connections = Number(args.connections);
  const wrkThreads = Number(args['wrk-threads']);
  if (!(durationSec > 0) || !(rounds >= 1) || !(connections >= 1)) throw new Error(`bad numbers\n${usage()}`);
  const proxyRuntime = args['proxy-runtime'] === 'tsx' ? 'tsx' : 'dist';
  const proxyEntry = args['proxy-entry'] === undefined ? undefined : resolve(args['proxy-entry']);
  const driver = pickDriver(args.driver, wrkThreads);
  const nginx = args['no-nginx'] ? undefined : findNginx();
  const varnishFound = args['no-varnish'] ? undefined : findVarnish();
  const varnish = varnishFound && 'path' in varnishFound ? varnishFound : undefined;
  const hints = setupHints({
    driver: driver.name,
    ...(args.driver === undefined ? {} : { requestedDriver: args.driver }),
    ...(args['no-nginx'] ? {} : { nginx: nginx !== undefined }),
    ...(varnishFound === undefined ? {} : { varnish: varnish ? true : (varnishFound as { missing: string }).missing }),
  });
  const tmp = mkdtempSync(join(tmpdir(), 'ledgerproxy-bench-'));
  const profileDir = join(ROOT, 'bench', '.out');
  mkdirSync(profileDir, { recursive: true });
  const log = (line: string) => process.stdout.write(`${line}\n`);

  if (proxyEntry !== undefined) {
    if (!existsSync(proxyEntry)) throw new Error(`--proxy-entry ${proxyEntry}: no such file`);
  } else if (proxyRuntime === 'dist') {
    if (!args['no-build']) {
      log('building dist/ (tsc -p tsconfig.json) ...');
      const b = buildProxy(ROOT);
      if (!b.ok) log(`  warning: tsc reported errors (dist/ may be partly stale):\n${b.output.split('\n').slice(0, 15).join('\n')}`);
    }
    if (!existsSync(join(ROOT, 'dist/src/main.js'))) throw new Error('dist/src/main.js missing: run npm run build, or use --proxy-runtime tsx');
  }

  const opts: RunOptions = {
    quick,
    durationSec,
    warmupSec: quick ? 1 : 2,
    rounds,
    connections,
    profileDir,
    useNginx: nginx !== undefined,
    useVarnish: varnish !== undefined,
  };
  if (args.profile === 'a' || args.profile === 'b' || args.profile === 'd' || args.profile === 'p') opts.profile = args.profile;
  const ctx: Ctx = {
    opts,
    env: { root: ROOT, tmp, proxyRuntime, wrkThreads, ...(nginx ? { nginx: nginx.path } : {}), ...(varnish ? { varnish: varnish.path } : {}), ...(proxyEntry ? { proxyEntry } : {}) },
    driver,
    log,
  };
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  const started = new Date();
  const meta = [
    `Run ${started.toISOString().replace(/\.\d+Z$/, 'Z')} on commit ${commit || 'unknown'}${dirty ? ` (+${dirty} uncommitted file(s) under src/)` : ''}, proxy from ${proxyEntry ? `\`node ${proxyEntry}\` (--proxy-entry)` : proxyRuntime === 'dist' ? '`node dist/src/main.js`' : '`node --import tsx src/main.ts`'}.`,
    '',
    `**Machine:** ${machineLine(driver.description, nginx?.version, varnish?.version)}.`,
    '',
    `**Settings:** ${connections} connections, ${durationSec} s per measured run after a ${opts.warmupSec} s warm-up, ${rounds} round(s)${quick ? ' (--quick)' : ''}; ${driver.resolution}.`,
  ];
  if (hints.length > 0) meta.push('', ...hints.map((h) => `> ${h}`));
  log(meta.filter(Boolean).join('\n'));

  const sections: Section[] = [];
  let crashed = false;
  for (const id of ids) {
    log(`\n== scenario ${id} ==`);
    const t = Date.now();
    const load0 = loadavg()[0] ?? NaN;
    try {
      const s = await SCENARIOS[id](ctx);
      s.lines.push(`_Ran ${((Date.now() - t) / 1000).toFixed(0)} s; machine load average (1 min) ${load0.toFixed(1)} at the start, ${(loadavg()[0] ?? NaN).toFixed(1)} at the end (${cpus().length} CPUs)._`, '');
      sections.push(s);
      for (const g of s.goals) log(`  ${g.pass ? 'PASS' : 'FAIL'}  ${g.label}: ${g.detail}`);
    } catch (err) {
      crashed = true;
      const msg = (err as Error).stack ?? String(err);
      log(`  ERROR in scenario ${id}: ${msg}`);
      sections.push({ id, title: `(${id}) did not complete`, lines: ['```', msg.slice(0, 2000), '```', ''], goals: [{ label: `(${id}) scenario ran`, pass: false, detail: 'error, see section' }] });
    }
    log(`  (${((Date.now() - t) / 1000).toFixed(0)} s)`);
  }

  if (args.profile) {
    for (const s of sections) {
      if (!s.profiles || s.profiles.length === 0) continue;
      const title = s.id === 'a' ? 'Hit path — scenario (a) under --cpu-prof'
        : s.id === 'p' ? 'Pass-through (transaction submits) — scenario (p) under --cpu-prof'
        : s.id === 'd' ? 'Batch path (20 new calls) — scenario (d) under --cpu-prof'
        : `Miss path — scenario (${s.id}) under --cpu-prof`;
      const md = [
        `# CPU profile: ${title}`,
        '',
        ...meta,
        '',
        'Load and results of the profiled run (profiling slows every process; do not compare these figures with RESULTS.md):',
        '',
        ...s.lines,
      ];
      for (const p of s.profiles) {
        const summary = summariseProfile(p.file, ROOT, 25, p.requests);
        const heading = `${p.label} — \`${relative(ROOT, p.file)}\``;
        md.push(...profileMarkdown(summary, heading));
        log(`\n${profileMarkdown(summary, heading).join('\n')}`);
      }
      md.push('Open a .cpuprofile in Chrome DevTools (Performance › Load profile) or https://www.speedscope.app for the call trees.', '');
      const file = join(ROOT, 'bench', `PROFILE-${s.id}.md`);
      writeFileSync(file, `${md.join('\n')}\n`);
      log(`written: ${relative(ROOT, file)}`);
    }
  } else {
    const outFile = args.out ? resolve(args.out) : quick ? join(profileDir, 'RESULTS-quick.md') : join(ROOT, 'bench', 'RESULTS.md');
    writeFileSync(outFile, render(meta, sections, ids));
    log(`\nwritten: ${relative(ROOT, outFile)}`);
  }

  const goals: Goal[] = sections.flatMap((s) => s.goals);
  const failed = goals.filter((g) => !g.pass);
  log(`\n${goals.length - failed.length}/${goals.length} goals pass${failed.length ? `; FAIL: ${failed.map((g) => g.label).join('; ')}` : ''}`);
  if (!crashed && !process.env['BENCH_KEEP_TMP']) rmSync(tmp, { recursive: true, force: true });
  else log(`logs kept in ${tmp}`);
  if (crashed) return 1;
  return args.strict && failed.length > 0 ? 2 : 0;
}

async function cleanup(): Promise<void> {
  await stopAll();
  killAllSync();
  // Grandchildren (nginx workers) may need a moment after their master left.
  for (let i = 0; i < 20 && strayProcesses().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  const stray = strayProcesses();
  if (stray.length > 0 || liveChildren().length > 0) process.stderr.write(`bench: stray processes left: ${stray.join(', ')}\n`);
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    await cleanup();
    process.exit(1);
  },
);
