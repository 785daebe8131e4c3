// The serve loop: runs the step table over the calls still open, one step after the other, and
// hands back one result per call in the client's order.
import { asProxyError } from '../../errors.js';
import { countCoalesced } from '../../metrics/metrics.js';
import type { CallPlan, CallResult } from '../../runtime/types.js';
import { callSteps, refreshSteps } from './table.js';
import type { CallDeps, CallRun, CallSlot, CallStep } from './types.js';

export async function serveCalls(plans: CallPlan[], deps: CallDeps): Promise<CallResult[]> {
  const slots: CallSlot[] = plans.map((plan, index) => ({ index, plan }));
  const run: CallRun = {
    ...deps,
    // The refresh runs on without this client; a failure there has already settled its flight.
    refresh: (refreshing) => void runSteps(refreshSteps, refreshing, run).catch(() => undefined),
  };
  await runSteps(callSteps, slots, run);
  countCoalesced(deps.group, slots.map((s) => s.result));
  return slots.map((s) => s.result ?? { cache: 'error', error: asProxyError(new Error('call left unanswered')) });
}

export async function runSteps(steps: readonly CallStep[], slots: CallSlot[], run: CallRun): Promise<void> {
  for (const step of steps) {
    const open = slots.filter((s) => s.result === undefined);
    if (open.length === 0) return;
    const pending = step(open, run);
    if (pending) await pending;
  }
  // A leader whose call no step settled would strand its followers until their deadline.
  for (const slot of slots) if (slot.result === undefined) slot.leader?.fail(asProxyError(new Error('call left unanswered')));
}
