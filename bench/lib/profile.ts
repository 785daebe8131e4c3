// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function + file, mapped back
// to src/*.ts through the dist source maps, plus self time per file / package.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  /** % of all samples but (idle) */
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  /** Requests the profiled process served (for µs per request); 0 when unknown. */
  requests: number;
  functions: ProfileRow[];
  files: ProfileRow[];
  groups: ProfileRow[];
  /** Project (src/, bench/) functions by inclusive time: self plus everything they called. */
  inclusive: ProfileRow[];
}

const maps = new Map<string, SourceMap | null>();

function sourceMapFor(file: string): SourceMap | null {
  if (!maps.has(file)) {
    const mapFile = `${file}.map`;
    let map: SourceMap | null = null;
    if (existsSync(mapFile)) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        map = null;
      }
    }
    maps.set(file, map);
  }
  return maps.get(file) ?? null;
}

/** Repo-relative file and 1-based line for a frame; dist/*.js mapped to the .ts it came from. */
function locate(frame: CallFrame, root: string): { file: string; line: number } {
  const { url } = frame;
  if (url === '') return { file: '', line: 0 };
  if (!url.startsWith('file://')) return { file: url, line: frame.lineNumber + 1 };
  const path = fileURLToPath(url);
  const map = path.endsWith('.js') && path.startsWith(resolve(root, 'dist')) ? sourceMapFor(path) : null;
  if (map && frame.lineNumber >= 0) {
    const entry = map.findEntry(frame.lineNumber, Math.max(0, frame.columnNumber)) as { originalSource?: string; originalLine?: number };
    if (entry.originalSource !== undefined && entry.originalLine !== undefined) {
      const src = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(path), entry.originalSource);
      return { file: relative(root, src), line: entry.originalLine + 1 };
    }
  }
  return { file: relative(root, path), line: frame.lineNumber + 1 };
}

/** src/x.ts, node_modules/<pkg>, node:<internal area>, or the V8 pseudo-frames. */
function groupOf(file: string, name: string): string {
  if (file === '') return name.startsWith('(') ? name : '(native / V8 builtins)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (nm) return `node_modules/${nm[1]}`;
  if (file.startsWith('node:')) return `node:${file.slice(5).split('/').slice(0, 2).join('/')}`;
  return file;
}

export function summariseProfile(file: string, root: string, top = 25, requests = 0): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i: the time up to the next sample belongs to sample i.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const files = new Map<string, number>();
  const groups = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const name = node.callFrame.functionName || (node.callFrame.url ? '(anonymous)' : '(native)');
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    const { file: f, line } = locate(node.callFrame, root);
    const where = f === '' ? '' : `${f}:${line}`;
    const key = `${name}\u0000${where}`;
    const row = fn.get(key) ?? { name, where, us: 0 };
    row.us += us;
    fn.set(key, row);
    const fileKey = f === '' ? name : f;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
    const g = groupOf(f, name);
    groups.set(g, (groups.get(g) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0);
  const inclusive = inclusiveTimes(profile, byId, selfUs, root);
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => ({ name: k, where: '', selfMs: us / 1000, pct: pct(us) }));
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    busyMs: busy / 1000,
    functions: [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((r) => ({ name: r.name, where: r.where, selfMs: r.us / 1000, pct: pct(r.us) })),
    files: rows(files),
    groups: rows(groups),
    requests,
    inclusive: [...inclusive.values()]
      .filter((r) => /^(src|bench)\//.test(r.where))
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((r) => ({ name: r.name, where: r.where, selfMs: r.us / 1000, pct: pct(r.us) })),
  };
}

/** Inclusive time per function; a function that appears again below itself is counted once. */
function inclusiveTimes(
  profile: CpuProfile,
  byId: Map<number, ProfileNode>,
  selfUs: Map<number, number>,
  root: string,
): Map<string, { name: string; where: string; us: number }> {
  const keyOf = new Map<number, { key: string; name: string; where: string }>();
  for (const n of profile.nodes) {
    const name = n.callFrame.functionName || (n.callFrame.url ? '(anonymous)' : '(native)');
    const { file, line } = locate(n.callFrame, root);
    const where = file === '' ? '' : `${file}:${line}`;
    keyOf.set(n.id, { key: `${name}\u0000${where}`, name, where });
  }
  const totals = new Map<number, number>();
  const totalOf = (id: number): number => {
    const cached = totals.get(id);
    if (cached !== undefined) return cached;
    // Iterative post-order: profiles can be deeper than a comfortable recursion.
    const stack: Array<[number, boolean]> = [[id, false]];
    while (stack.length > 0) {
      const [cur, expanded] = stack.pop() as [number, boolean];
      const node = byId.get(cur);
      if (!node) continue;
      if (!expanded) {
        stack.push([cur, true]);
        for (const c of node.children ?? []) if (!totals.has(c)) stack.push([c, false]);
      } else {
        let t = selfUs.get(cur) ?? 0;
        for (const c of node.children ?? []) t += totals.get(c) ?? 0;
        totals.set(cur, t);
      }
    }
    return totals.get(id) ?? 0;
  };
  const out = new Map<string, { name: string; where: string; us: number }>();
  const rootNode = profile.nodes[0];
  if (!rootNode) return out;
  totalOf(rootNode.id);
  // Walk down with the keys on the current path; count a node only when its key is not above it.
  const onPath = new Map<string, number>();
  const walk: Array<[number, boolean]> = [[rootNode.id, false]];
  while (walk.length > 0) {
    const [id, leaving] = walk.pop() as [number, boolean];
    const k = keyOf.get(id);
    if (!k) continue;
    if (leaving) {
      const n = (onPath.get(k.key) ?? 1) - 1;
      if (n === 0) onPath.delete(k.key);
      else onPath.set(k.key, n);
      continue;
    }
    if (!onPath.has(k.key)) {
      const row = out.get(k.key) ?? { name: k.name, where: k.where, us: 0 };
      row.us += totals.get(id) ?? 0;
      out.set(k.key, row);
    }
    onPath.set(k.key, (onPath.get(k.key) ?? 0) + 1);
    walk.push([id, true]);
    for (const c of byId.get(id)?.children ?? []) walk.push([c, false]);
  }
  return out;
}

export function profileMarkdown(s: ProfileSummary, title: string): string[] {
  const perReq = (ms: number) => (s.requests > 0 ? ((ms * 1000) / s.requests).toFixed(2) : 'n/a');
  const fn = (r: ProfileRow) => `\`${r.name.replace(/\|/g, '\\|')}\``;
  const where = (r: ProfileRow) => (r.where === '' ? '' : `\`${r.where}\``);
  return [
    `### ${title}`,
    '',
    `Sampled ${(s.totalMs / 1000).toFixed(1)} s, ${(s.busyMs / 1000).toFixed(1)} s of it busy (not idle), over ${s.requests.toLocaleString('en-US')} requests:`,
    `**${perReq(s.busyMs)} µs busy per request**. Percentages are of busy time; "µs/req" is that time divided by the requests.`,
    'Native frames such as `writev` include time the process sat in the kernel (or was descheduled there) while sending.',
    '',
    '| # | function (self time) | where | self ms | self % | µs/req |',
    '|---:|---|---|---:|---:|---:|',
    ...s.functions.map((r, i) => `| ${i + 1} | ${fn(r)} | ${where(r)} | ${r.selfMs.toFixed(0)} | ${r.pct.toFixed(1)} | ${perReq(r.selfMs)} |`),
    '',
    ...(s.inclusive.length > 0
      ? [
          'Project functions by inclusive time (self + callees):',
          '',
          '| function (inclusive) | where | ms | % | µs/req |',
          '|---|---|---:|---:|---:|',
          ...s.inclusive.map((r) => `| ${fn(r)} | ${where(r)} | ${r.selfMs.toFixed(0)} | ${r.pct.toFixed(1)} | ${perReq(r.selfMs)} |`),
          '',
        ]
      : []),
    'Self time by file / package:',
    '',
    '| file or package | self ms | self % | µs/req |',
    '|---|---:|---:|---:|',
    ...s.groups.map((r) => `| \`${r.name}\` | ${r.selfMs.toFixed(0)} | ${r.pct.toFixed(1)} | ${perReq(r.selfMs)} |`),
    '',
  ];
}
