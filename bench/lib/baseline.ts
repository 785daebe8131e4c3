// Optional other proxy builds measured in the same run as the current one (rows in (b) and (d)):
// `BENCH_BASELINES="before=/tmp/a/dist/src/main.js,metrics=/tmp/b/dist/src/main.js"` (older commits
// built elsewhere). What each change bought is then a ratio from one run, not from two.
import type { Ctx } from './bench.js';
import type { Child } from './proc.js';
import { startProxy } from './stack.js';

function parse(): Array<{ label: string; entry: string }> {
  const raw = process.env['BENCH_BASELINES'] ?? '';
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const eq = s.indexOf('=');
    return eq < 0 ? { label: s, entry: s } : { label: s.slice(0, eq), entry: s.slice(eq + 1) };
  });
}

export async function startBaselines(ctx: Ctx, mockOrigin: string): Promise<Array<{ name: string; origin: string; child: Child }>> {
  const out: Array<{ name: string; origin: string; child: Child }> = [];
  for (const b of parse()) {
    const proxy = await startProxy({ ...ctx.env, proxyEntry: b.entry }, { mockOrigin });
    out.push({ name: `baseline: ${b.label}`, origin: proxy.origin, child: proxy.child });
  }
  return out;
}
