// Defaults that depend on the chain a group speaks to, kept beside the schema's: versions on Aptos
// are transactions (thousands a second), blocks on EVM and Neo are seconds apart.
import type { UpstreamConfig } from './schema.js';

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
