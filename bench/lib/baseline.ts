// An optional second proxy build measured in the same run as the current one (rows in (b) and (d)):
// `BENCH_BASELINE_ENTRY=/path/to/dist/src/main.js` (e.g. an older commit built elsewhere), labelled
// with `BENCH_BASELINE_LABEL`. What a change bought is then a ratio from one run, not two.
import type { Ctx } from './bench.js';
import type { Child } from './proc.js';
import { startProxy } from './stack.js';

const ENTRY = process.env['BENCH_BASELINE_ENTRY'];
export const BASELINE_LABEL = process.env['BENCH_BASELINE_LABEL'] ?? 'baseline';

export async function startBaseline(ctx: Ctx, mockOrigin: string): Promise<{ origin: string; child: Child } | undefined> {
  if (!ENTRY) return undefined;
  const proxy = await startProxy({ ...ctx.env, proxyEntry: ENTRY }, { mockOrigin });
  return { origin: proxy.origin, child: proxy.child };
}
