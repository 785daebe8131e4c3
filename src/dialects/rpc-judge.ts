// Judging a whole upstream JSON-RPC answer, shared by the EVM and Neo dialects: garbage or an
// answer that does not match the calls sent is a failing node; "no such block" on a pinned call is
// a node that lacks the version (ask another); anything else is an answer.
//
// Cache safety: answers are matched to calls strictly by id (answerIdsIntact), never by position,
// so a broken answer is never stored or shared as some call's result.
import { scanRpcResponse, upstreamIndex, type ScannedRpcResponse } from './rpc-answer-scan.js';
import type { CallAnswer } from './types.js';

/** Node errors meaning "I do not have that block (any more)": geth, erigon, reth, nethermind wording. */
const MISSING_STATE = /header not found|missing trie node|unknown block|block not found|pruned|state (is )?not available/i;

/**
 * Shared judge: a 200 must be JSON-RPC, and it must answer exactly the calls that were sent (ids
 * 0..n-1, each once — see answerIdsIntact). For a call pinned to a block, "no such block" errors
 * and a null result mean this node does not have the block (yet, or any more): ask another node.
 * (A null that every node gives is still answered, after the retry, and never cached.)
 */
export function rpcJudge(answer: CallAnswer, pins: ReadonlyArray<bigint | undefined>): 'ok' | 'bad' | 'lacks-version' {
  let items: ScannedRpcResponse[];
  try {
    items = scanRpcResponse(answer.body);
  } catch {
    return answer.status === 200 ? 'bad' : 'ok';
  }
  if (!answerIdsIntact(items, pins.length)) return 'bad';
  for (const item of items) {
    // Intact: every item's id is one of 0..n-1 (the lone id:null error has none, and no pin).
    const pin = pins[upstreamIndex(item.idRaw, pins.length)];
    if (pin !== undefined && lacksBlock(item)) return 'lacks-version';
  }
  return 'ok';
}

/**
 * The calls of an upstream request are sent with ids 0..n-1. A well-formed answer holds each of
 * them exactly once and nothing else — or is one `id: null` *error*: the node rejected the whole
 * request (parse error, batch refused), which applies to every call. A missing, duplicate or
 * unknown id, or an `id: null` *result*, is a broken answer: no call can tell which result is
 * its own, so none may be stored or shared (strict matching, never by position).
 */
export function answerIdsIntact(items: readonly ScannedRpcResponse[], n: number): boolean {
  if (items.length === 1 && items[0]?.idRaw === 'null' && items[0].error !== undefined) return true;
  if (items.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const item of items) {
    const index = upstreamIndex(item.idRaw, n);
    if (index < 0 || seen[index] === 1) return false;
    seen[index] = 1;
  }
  return true;
}

function lacksBlock(item: ScannedRpcResponse): boolean {
  if (item.isError) return MISSING_STATE.test((item.error as Buffer).toString('utf8'));
  // Read on the byte range: no view of the body per judged call.
  return item.isNull;
}
