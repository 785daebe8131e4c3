// The dialect registry: the config names a dialect per route, the pipeline asks for it here.
import { aptosRest } from './aptos-rest.js';
import { evmJsonRpc } from './evm-jsonrpc.js';
import { neoJsonRpc } from './neo-jsonrpc.js';
import type { Dialect, DialectName } from './types.js';

const DIALECTS: Readonly<Record<DialectName, Dialect>> = {
  'aptos-rest': aptosRest,
  'evm-jsonrpc': evmJsonRpc,
  'neo-jsonrpc': neoJsonRpc,
};

export function dialectFor(name: DialectName): Dialect {
  return DIALECTS[name];
}

export { aptosRest, evmJsonRpc, neoJsonRpc };
export type * from './types.js';
export {
  ENVELOPE_SUFFIX,
  envelopePrefix,
  rpcBatchText,
  rpcEnvelope,
  rpcErrorText,
} from './jsonrpc.js';
export { JsonNumber, parseJson, stringifyJson, type JsonValue } from './json-text.js';
export { scanRpcResponse, type ScannedRpcResponse } from './rpc-answer-scan.js';
