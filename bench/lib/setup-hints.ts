// What to tell the person running the bench when a reference tool is missing: the row is skipped,
// not failed, and `bench/setup.sh` installs what is missing (Debian/Ubuntu, needs root).

export interface ToolState {
  /** The load driver actually picked. */
  driver: 'wrk' | 'autocannon';
  /** Explicitly requested driver (--driver / BENCH_DRIVER), if any. */
  requestedDriver?: string;
  /** undefined: disabled with --no-nginx; otherwise whether it was found. */
  nginx?: boolean;
  /** undefined: disabled with --no-varnish; otherwise found, or why not. */
  varnish?: true | string;
}

export function setupHints(t: ToolState): string[] {
  const out: string[] = [];
  if (t.driver !== 'wrk' && t.requestedDriver === undefined) {
    out.push('wrk not installed: using autocannon (whole-ms latencies, more client CPU on the same cores).');
  }
  if (t.nginx === false) out.push('nginx not installed: the nginx reference rows of (a) and (c) are skipped (or pass --no-nginx).');
  if (typeof t.varnish === 'string') out.push(`${t.varnish}: the Varnish reference rows of (a) and (c) are skipped (or pass --no-varnish).`);
  if (out.length > 0) out.push('  → install them with `sudo bench/setup.sh` (apt-get install -y wrk nginx varnish varnish-modules), then run again.');
  return out;
}
