// How each dialect learns which chain its nodes serve, in the nodes' own words: the answer that
// tells two chains apart (EVM `eth_chainId`, Aptos `chain_id` of GET /v1, Neo's network magic in
// `getversion`). The proxy puts it into every cache key before a group may use the shared tier
// (src/upstream/chain-identity.ts), so fleets with a group of the same name on different chains that
// share one Redis never serve each other's answers.
import { JsonNumber, isJsonObject, parseJson, type JsonValue } from './json-text.js';
import { rpcProbe } from './jsonrpc.js';
import type { ChainIdentityPoll } from './types.js';

export type { ChainIdentityPoll };

/** Depth bound for parsing identity answers (they are small, flat objects). */
const MAX_DEPTH = 8;

function rpcPoll(method: string, pick: (result: JsonValue) => string | undefined): ChainIdentityPoll {
  return rpcProbe(method, pick, MAX_DEPTH);
}

/** A JSON number or a 0x-quantity / decimal string, as a canonical decimal (0x1 and 1 are one chain). */
function canonicalNumber(v: JsonValue | undefined): string | undefined {
  if (v instanceof JsonNumber) return /^\d+$/.test(v.raw) ? BigInt(v.raw).toString() : undefined;
  if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(v)) return BigInt(v).toString();
  if (typeof v === 'string' && /^\d{1,78}$/.test(v)) return BigInt(v).toString();
  return undefined;
}

export function evmChainIdentity(): ChainIdentityPoll {
  return rpcPoll('eth_chainId', (r) => withTag('evm', canonicalNumber(r)));
}

/** Neo N3: `protocol.network` (C# and current neo-go); old neo-go put `network` at the top. */
export function neoChainIdentity(): ChainIdentityPoll {
  return rpcPoll('getversion', (r) => {
    if (!isJsonObject(r)) return undefined;
    const protocol = r.protocol;
    const network = isJsonObject(protocol) ? protocol.network : r.network;
    return withTag('neo', canonicalNumber(network));
  });
}

export function aptosChainIdentity(): ChainIdentityPoll {
  return {
    payload: { method: 'GET', pathAndQuery: '/v1', headers: { accept: 'application/json' } },
    parse(status, body) {
      if (status !== 200) return undefined;
      try {
        const info = parseJson(body, MAX_DEPTH);
        return isJsonObject(info) ? withTag('aptos', canonicalNumber(info.chain_id)) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

function withTag(dialect: string, id: string | undefined): string | undefined {
  return id === undefined ? undefined : `${dialect}-${id}`;
}
