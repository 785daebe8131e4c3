// Shared JSON-RPC 2.0 envelope code for the EVM and Neo dialects: request parsing (single or
// batch), per-element validation, call building (key material + forwarder), and the texts the
// pipeline needs to answer with the client's own ids.
//
// Cache safety: the key material is `method + canonical params` (members sorted, numbers by their
// literal text) and never contains the id, so the same call from different clients shares an
// entry; the forwarded body is serialised from the same parsed params, so what is keyed is
// exactly what the node is asked. Params are parsed once; where their source text is exactly
// what serialising them would write (RpcElement.paramsText, paramsCanonical), the text is copied
// instead.
import { InternalError, InvalidRequestError, ProxyError } from '../errors.js';
import { JsonNumber, RpcElement, isJsonObject, parseJson, parseRpcDocument, stringifyJson, type JsonObject, type JsonValue } from './json-text.js';
import { scanRpcResponse } from './rpc-answer-scan.js';
import { callForward } from './rpc-forward.js';
import { OTHER_LABEL, methodFacts, type MethodFacts } from './rpc-method-facts.js';
import { keyMaterialAfter, swappedKeyMaterial, type RpcParams } from './rpc-params-text.js';
import type { Call, CallAnswer, CallClass, HeadPoll, ParseLimits, ParsedRequest, RpcForward, TimeoutClass, UpstreamPayload } from './types.js';

export { rpcKeyMaterial, type RpcParams } from './rpc-params-text.js';

/** What a dialect says about one well-formed call. */
export interface RpcClassification {
  cls: CallClass;
  /**
   * The index of the block param (params are then an array that has it): in the key material it
   * reads RpcSpec.blockPlaceholder. Unset: params enter the key as sent.
   */
  blockAt?: number;
  /** With blockAt, for a head read that can be forwarded pinned: RpcSpec.pinnedBlock(h) goes there. */
  pinnable?: boolean;
  pin?: bigint;
  reorgable?: boolean;
  /** Session the call continues (see Call.affinity). */
  affinity?: string;
}

export interface RpcSpec {
  /** Methods that may be used as metric labels; any other method is labelled 'other'. */
  knownMethods: ReadonlySet<string>;
  /** Throws a ProxyError (usually InvalidParamsError) to reject this call alone. */
  classify(method: string, params: RpcParams | undefined): RpcClassification;
  /** The call's timeout class (unset: normal); a pure function of the method (see rpc-method-facts.ts). */
  timeoutClass?(method: string): TimeoutClass | undefined;
  /** What stands for the block param in the key material (see RpcClassification.blockAt). */
  blockPlaceholder?: string;
  /** The block param of a read forwarded pinned to h (see RpcClassification.pinnable). */
  pinnedBlock?(h: bigint): JsonValue;
}

/** Parses a JSON-RPC request body. Throws for a malformed document, an empty or oversized batch. */
export function parseRpcRequest(body: Buffer, limits: ParseLimits, spec: RpcSpec): ParsedRequest {
  const { value: doc } = parseRpcDocument(body, limits.maxJsonDepth);
  if (Array.isArray(doc)) {
    if (doc.length === 0) throw new InvalidRequestError('empty batch');
    if (doc.length > limits.maxBatchLength) {
      throw new InvalidRequestError(`batch of ${doc.length} calls exceeds the limit of ${limits.maxBatchLength}`);
    }
    const calls: Call[] = new Array(doc.length);
    for (let i = 0; i < doc.length; i++) calls[i] = parseCall(doc[i] as RpcElement | JsonValue, spec);
    return { kind: 'jsonrpc', batch: true, calls };
  }
  if (!(doc instanceof RpcElement)) throw new InvalidRequestError('a JSON-RPC request must be an object or an array');
  return { kind: 'jsonrpc', batch: false, calls: [parseCall(doc, spec)] };
}

/**
 * One element: a bad envelope or bad params give a rejected Call, so a batch keeps its positions.
 * Only a well-formed request without `id` is a notification (JSON-RPC 2.0 §4.1); anything that is
 * not a request at all (`{"foo":"boo"}`, a non-string method) is answered -32600 — with `id: null`
 * unless the element carried a valid id (§5: null only when the id could not be detected).
 */
function parseCall(el: RpcElement | JsonValue, spec: RpcSpec): Call {
  if (!(el instanceof RpcElement)) return rejectedCall(spec, 'null', false, undefined, new InvalidRequestError('call is not an object'));
  const id = el.id;
  const method = typeof el.method === 'string' ? el.method : undefined;
  const idOk = id === undefined || isValidId(id);
  const idRaw = id === undefined || !idOk ? 'null' : idText(id);
  const problem = !idOk ? 'id must be a string, a number or null' : method === undefined ? 'method must be a string' : envelopeProblem(el);
  if (problem !== undefined || method === undefined) {
    return rejectedCall(spec, idRaw, false, method, new InvalidRequestError(problem ?? 'method must be a string'));
  }
  const notification = id === undefined;
  // `"params": null` is read as no params, as geth does; it is still forwarded as written.
  const params = el.params === null ? undefined : (el.params as RpcParams | undefined);
  let c: RpcClassification;
  try {
    c = spec.classify(method, params);
  } catch (err) {
    if (err instanceof ProxyError) return rejectedCall(spec, idRaw, notification, method, err);
    throw err;
  }
  const facts = methodFacts(spec, method);
  // The params' texts stand for the params only while they are the ones parsed (never changed).
  const forward = callForward(spec, idRaw, notification, facts, params, el.params === null, el.paramsText, c);
  return buildCall(spec, facts, forward, params, el, c);
}

function isValidId(id: JsonValue | undefined): boolean {
  return id === null || typeof id === 'string' || id instanceof JsonNumber;
}

/** A valid id as stringifyJson writes it (the text written back to the client). */
function idText(id: JsonValue): string {
  return id instanceof JsonNumber ? id.raw : stringifyJson(id);
}

/** (A member the element does not have is undefined: no JSON value is.) */
function envelopeProblem(el: RpcElement): string | undefined {
  if (el.jsonrpc !== undefined && el.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if (el.params !== undefined && el.params !== null && !Array.isArray(el.params) && !isJsonObject(el.params)) return 'params must be an array or an object';
  return undefined;
}

function buildCall(spec: RpcSpec, facts: MethodFacts, forward: RpcForward, params: RpcParams | undefined, el: RpcElement, c: RpcClassification): Call {
  const call: Call = {
    cls: c.cls,
    name: facts.label,
    keyMaterial: keyMaterialOf(spec, facts, params, el, c.blockAt),
    rpc: forward,
  };
  if (c.pin !== undefined) call.pin = c.pin;
  if (c.reorgable === true) call.reorgable = true;
  if (c.affinity !== undefined) call.affinity = c.affinity;
  if (facts.timeoutClass !== undefined) call.timeoutClass = facts.timeoutClass;
  return call;
}

/** `params` are el's (the texts el kept for them are theirs: RpcElement.paramsCanonical). */
function keyMaterialOf(spec: RpcSpec, facts: MethodFacts, params: RpcParams | undefined, el: RpcElement, blockAt: number | undefined): string {
  if (blockAt === undefined) return keyMaterialAfter(facts.keyHead, params, el.paramsCanonical);
  if (!Array.isArray(params) || spec.blockPlaceholder === undefined) throw new InternalError(`${facts.method}: a block param needs array params and a placeholder`);
  return swappedKeyMaterial(facts.keyHead, params, blockAt, spec.blockPlaceholder, el.paramsCanonical, el.paramsCanonicalHead);
}

/** The label as buildCall gives it (the method facts'); an unreadable method is 'other' too. */
function rejectedCall(spec: RpcSpec, idRaw: string, notification: boolean, method: string | undefined, err: ProxyError): Call {
  return {
    cls: 'uncached',
    name: method === undefined ? OTHER_LABEL : methodFacts(spec, method).label,
    keyMaterial: '',
    reject: err,
    rpc: {
      idRaw,
      method: method ?? '',
      canPin: false,
      notification,
      body(): string {
        throw new InternalError('a rejected call is answered by the proxy, never forwarded');
      },
      bodyParts(): void {
        throw new InternalError('a rejected call is answered by the proxy, never forwarded');
      },
    },
  };
}

/** A request text; params keep their literal text (numbers as parsed). */
export function rpcRequestText(id: number, method: string, params: RpcParams | null | undefined): string {
  const p = params === undefined ? '' : `,"params":${params === null ? 'null' : stringifyJson(params)}`;
  return `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)}${p}}`;
}

// ---- answers -------------------------------------------------------------------------------

/** An answer's envelope is ENVELOPE_OPEN, the client's id, envelopeMember, the result or error, ENVELOPE_SUFFIX. */
export const ENVELOPE_OPEN = '{"jsonrpc":"2.0","id":';
export function envelopeMember(member: 'result' | 'error'): string {
  return member === 'result' ? ',"result":' : ',"error":';
}

/** `{"jsonrpc":"2.0","id":<idRaw>,"result":` — a stored result is spliced between this and the suffix. */
export function envelopePrefix(idRaw: string, member: 'result' | 'error' = 'result'): string {
  return ENVELOPE_OPEN + idRaw + envelopeMember(member);
}
export const ENVELOPE_SUFFIX = '}';

/** A complete answer around a stored result (or an upstream error object), with the client's id. */
export function rpcEnvelope(idRaw: string, member: 'result' | 'error', raw: Buffer): Buffer {
  return Buffer.concat([Buffer.from(envelopePrefix(idRaw, member)), raw, Buffer.from(ENVELOPE_SUFFIX)]);
}

export function rpcErrorText(idRaw: string, code: number, message: string): string {
  return `${envelopePrefix(idRaw, 'error')}{"code":${code},"message":${JSON.stringify(message)}}${ENVELOPE_SUFFIX}`;
}

/** The answer to a batch: the element answers in the client's order (notifications left out). */
export function rpcBatchText(parts: ReadonlyArray<Buffer | string>): Buffer {
  const out: Buffer[] = [Buffer.from('[')];
  parts.forEach((p, i) => {
    if (i > 0) out.push(Buffer.from(','));
    out.push(typeof p === 'string' ? Buffer.from(p) : p);
  });
  out.push(Buffer.from(']'));
  return Buffer.concat(out);
}

// ---- dialect helpers -----------------------------------------------------------------------

/** JSON-RPC endpoints: POST bodies are parsed; anything else (GET, WebSocket upgrade) streams. */
export function rpcPlan(method: string): { mode: 'parse' } | { mode: 'passthrough'; write: boolean } {
  return method === 'POST' ? { mode: 'parse' } : { mode: 'passthrough', write: false };
}

/** Rules every JSON-RPC dialect shares: a 200 with a non-null result (null = not found / not mined). */
export function rpcAnswerCacheable(a: CallAnswer): boolean {
  if (a.status !== 200 || a.rpcError === true) return false;
  // Trim JSON whitespace on the bytes: results can be megabytes, decoding them to look for
  // `null` would be waste.
  const b = a.body;
  let start = 0;
  let end = b.length;
  while (start < end && isJsonSpace(b[start])) start++;
  while (end > start && isJsonSpace(b[end - 1])) end--;
  return end > start && !(end - start === 4 && b.toString('latin1', start, end) === 'null');
}

function isJsonSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** A result object parsed for inspection only (never re-serialised); undefined if not an object. */
export function resultObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A light probe sending `method` with no params (head polls, chain identity); `pick` turns the
 * parsed result into what the probe wants, undefined when the answer does not tell.
 */
export function rpcProbe<T>(method: string, pick: (result: JsonValue) => T | undefined, maxDepth = 8): { payload: UpstreamPayload; parse(status: number, body: Buffer): T | undefined } {
  return {
    payload: {
      method: 'POST',
      pathAndQuery: '/',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: Buffer.from(rpcRequestText(1, method, [])),
    },
    parse(status: number, body: Buffer): T | undefined {
      if (status !== 200) return undefined;
      try {
        const [answer] = scanRpcResponse(body);
        return answer?.result === undefined ? undefined : pick(parseJson(answer.result, maxDepth));
      } catch {
        return undefined;
      }
    },
  };
}

/** A head poll sending `method` with no params; toHead turns the result into the head. */
export function rpcHeadPoll(method: string, toHead: (result: JsonValue) => bigint | undefined): HeadPoll {
  return rpcProbe(method, toHead, 4);
}
