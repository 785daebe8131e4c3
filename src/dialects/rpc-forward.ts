// How one parsed JSON-RPC call is written to a node: its params held as the texts made at parse
// time where those are exact (rpc-params-text.ts), else as the parsed tree, and pinned to a block
// when the plan forwards a latest read pinned.
import { InternalError } from '../errors.js';
import { stringifyJson, type JsonValue } from './json-text.js';
import type { RpcClassification, RpcSpec } from './jsonrpc.js';
import type { MethodFacts } from './rpc-method-facts.js';
import { lastStringCut, withParam, type RpcParams } from './rpc-params-text.js';
import type { RpcForward } from './types.js';

/**
 * How a parsed call is forwarded. Where the params' kept text says it all (the usual request: no
 * whitespace), the forward holds texts only and the parsed tree is garbage once the request is
 * parsed (see rpc-params-text.ts); otherwise it holds the tree and writes from it when asked.
 * text: stringifyJson(params) when the parser kept it (RpcElement.paramsText).
 */
export function callForward(
  spec: RpcSpec,
  idRaw: string,
  notification: boolean,
  facts: MethodFacts,
  params: RpcParams | undefined,
  paramsNull: boolean,
  text: string | undefined,
  c: RpcClassification,
): CallForward {
  const { method, methodMember } = facts;
  const pinAt = c.pinnable === true && c.blockAt !== undefined && Array.isArray(params) ? c.blockAt : undefined;
  const pinnedBlock = pinAt === undefined ? undefined : spec.pinnedBlock;
  if (pinAt !== undefined && pinnedBlock === undefined) throw new InternalError(`${method}: a pinnable call needs RpcSpec.pinnedBlock`);
  // `"params": null` is forwarded as written: the node decides what it means.
  if (paramsNull || params === undefined) return new CallForward(idRaw, notification, method, methodMember, paramsNull ? 'null' : '', undefined, undefined, undefined);
  if (text === undefined) return new CallForward(idRaw, notification, method, methodMember, undefined, params, pinAt, pinnedBlock);
  const cut = pinAt === undefined ? undefined : lastStringCut(text, params as JsonValue[], pinAt);
  if (pinAt !== undefined && cut === undefined) return new CallForward(idRaw, notification, method, methodMember, text, params, pinAt, pinnedBlock);
  return new CallForward(idRaw, notification, method, methodMember, text, undefined, pinAt, pinnedBlock, cut);
}

/**
 * One parsed call as forwarded (a class: no closure or envelope object per call). Its params are
 * held as texts where they could be made at parse time, else as the parsed tree.
 */
class CallForward implements RpcForward {
  readonly canPin: boolean;

  constructor(
    readonly idRaw: string,
    readonly notification: boolean,
    readonly method: string,
    /** `,"method":<method as JSON>` (MethodFacts.methodMember). */
    private readonly methodMember: string,
    /** The params' compact text as forwarded unpinned ('' without params); undefined: written from `params`. */
    private paramsText: string | undefined,
    /** The parsed params, kept only when a text below could not be made at parse time. */
    private readonly params: RpcParams | undefined,
    /** The block param's index, for a call that can be forwarded pinned. */
    private readonly pinAt: number | undefined,
    private readonly pinnedBlock: ((h: bigint) => JsonValue) | undefined,
    /** The compact params text up to the block param (see lastStringCut); undefined: pinned from `params`. */
    private readonly pinHead?: string,
  ) {
    this.canPin = pinAt !== undefined;
  }

  body(id: number, pinTo?: bigint): string {
    const out: Array<string | number> = [];
    this.bodyParts(out, id, pinTo);
    return out.join('');
  }

  bodyParts(out: Array<string | number>, id: number, pinTo?: bigint): void {
    if (!Number.isSafeInteger(id)) throw new InternalError(`upstream id must be an integer, got ${id}`);
    // The texts are put together here, when the call is forwarded, not when it is parsed: most
    // calls of a warm cache never are.
    out.push(OPEN, id, this.methodMember);
    if (pinTo === undefined) {
      const params = (this.paramsText ??= stringifyJson(this.params as RpcParams));
      if (params === '') out.push('}');
      else out.push(PARAMS, params, '}');
      return;
    }
    // Pinning a call that cannot be pinned would store an unpinned answer under a pinned key.
    if (this.pinAt === undefined || this.pinnedBlock === undefined) throw new InternalError(`${this.method} cannot be forwarded pinned`);
    if (this.pinHead !== undefined) {
      out.push(PARAMS, this.pinHead, pinnedText(this.pinnedBlock, pinTo), ']}');
      return;
    }
    const pinned = withParam(this.params as JsonValue[], this.pinAt, this.pinnedBlock(pinTo));
    out.push(PARAMS, stringifyJson(pinned), '}');
  }
}

const OPEN = '{"jsonrpc":"2.0","id":';
const PARAMS = ',"params":';

/**
 * stringifyJson(pinnedBlock(h)): the calls of a batch are pinned to the same head, so the last
 * one is kept (per dialect's pinnedBlock, a pure function of h), not a block printed per call.
 */
let lastPinnedBlock: ((h: bigint) => JsonValue) | undefined;
let lastPin: bigint | undefined;
let lastPinText = '';

function pinnedText(pinnedBlock: (h: bigint) => JsonValue, h: bigint): string {
  if (pinnedBlock !== lastPinnedBlock || h !== lastPin) {
    lastPinText = stringifyJson(pinnedBlock(h));
    lastPinnedBlock = pinnedBlock;
    lastPin = h;
  }
  return lastPinText;
}
