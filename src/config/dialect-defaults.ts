// Defaults that depend on the chain a group speaks to, kept beside the schema's: versions on Aptos
// are transactions (thousands a second), blocks on EVM and Neo are seconds apart.
import type { RouteConfig, UpstreamConfig } from './schema.js';

const finalityDepth = { 'aptos-rest': 0, 'evm-jsonrpc': 64, 'neo-jsonrpc': 0 } as const;
const maxLag = { 'aptos-rest': 50_000, 'evm-jsonrpc': 5, 'neo-jsonrpc': 2 } as const;

/** Blocks below the head that may still reorg (BFT chains finalize every block). */
export function finalityDepthOf(cfg: UpstreamConfig): bigint {
  return BigInt(cfg.finalityDepth ?? finalityDepth[cfg.dialect]);
}

/** How far behind the group head a replica may be and still serve reads. */
export function maxLagOf(cfg: UpstreamConfig): bigint {
  return BigInt(cfg.lag.maxLag ?? maxLag[cfg.dialect]);
}

/**
 * How far a latest read may lag the tracked head. EVM and Neo blocks are seconds apart, so their
 * latest key changes once per block anyway: there latest reads follow the tracked head exactly
 * (versions 0, ms 0), which is what a wallet doing send → receipt → read expects. Aptos versions
 * move thousands a second: without a bound no two latest reads would share a key.
 */
const maxStaleness = {
  'aptos-rest': { versions: undefined, ms: 1_000 },
  'evm-jsonrpc': { versions: 0, ms: 0 },
  'neo-jsonrpc': { versions: 0, ms: 0 },
} as const;

export interface ResolvedStaleness {
  versions?: number | undefined;
  ms: number;
}

/** The route's maxStaleness, each field defaulting to its group's dialect default. */
export function maxStalenessOf(route: RouteConfig, cfg: UpstreamConfig): ResolvedStaleness {
  const d = maxStaleness[cfg.dialect];
  const set = route.cache.maxStaleness;
  return { versions: set.versions ?? d.versions, ms: set.ms ?? d.ms };
}

/** Slack on top of maxStaleness.ms + head.pollIntervalMs before an unconfirmed head counts as frozen. */
export function headFreshForMs(staleness: ResolvedStaleness, cfg: UpstreamConfig): number {
  const poll = cfg.head.pollIntervalMs;
  return staleness.ms + poll + Math.max(500, Math.floor(poll / 2));
}
