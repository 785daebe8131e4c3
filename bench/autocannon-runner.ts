// The autocannon driver as its own process (used when wrk is not installed):
//   node --import tsx bench/autocannon-runner.ts '<LoadSpec JSON>'
// Prints one `ACJSON {...}` line with the same fields as the wrk driver.
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './lib/driver.js';
import { jsGenerator } from './lib/workloads.js';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
  const next = jsGenerator(spec.workload);
  const first = next();
  const dynamic = spec.workload.kind !== 'fixed';
  const result = await autocannon({
    url: spec.origin,
    connections: spec.connections,
    duration: spec.durationSec,
    timeout: 10,
    requests: [
      {
        ...first,
        ...(dynamic ? { setupRequest: (req) => ({ ...req, ...next() }) } : {}),
      },
    ],
  });
  const requests = result.requests.total;
  const out: LoadResult = {
    driver: 'autocannon',
    requests,
    seconds: result.duration,
    rps: requests / result.duration,
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    maxms: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
  process.stdout.write(`ACJSON ${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
