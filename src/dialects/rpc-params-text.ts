// The texts one JSON-RPC call's params are written as, made when the request is parsed: the key
// material (canonical, the block param replaced by the dialect's placeholder) and the forwarded
// params (compact, optionally with the block param pinned). Made from the params' source texts
// (RpcElement.paramsText and paramsCanonical, json-text.ts) where those are exact, so a call keeps a few strings instead of its parsed
// tree: a batch of 20 calls held ~20 small objects each across the upstream wait (elements, params
// arrays, null-prototype objects, the source-text maps), which every young-generation GC copied.
//
// Cache safety: every text here is byte for byte what stringifyJson writes for the same params
// (with the same replacement), or the key would differ from what is forwarded. The shortcut
// applies only where that is plain: the block param is the last one and a string, and the params'
// text was kept (no whitespace, no escape, no duplicate member: see TextKeeper). A kept string
// is written by stringifyJson as its characters between quotes, so the kept text ends with
// `"<param>"]`, checked before it is cut. Anything else goes through stringifyJson on a copy of
// the params with the replacement made, as before.
import { stringifyJson, type JsonValue } from './json-text.js';

export type RpcParams = JsonValue[] | { [key: string]: JsonValue };

/**
 * `"params"` in the key material: method, newline, canonical params (absent ones read `[]`).
 * canonical: stringifyJson(params, { sortKeys: true }) when already known (RpcElement.paramsCanonical).
 */
export function rpcKeyMaterial(method: string, params: RpcParams | undefined, canonical?: string): string {
  return keyMaterialAfter(`${method}\n`, params, canonical);
}

/** rpcKeyMaterial with its `<method>\n` made already (MethodFacts.keyHead: one string per method, not one per call). */
export function keyMaterialAfter(keyHead: string, params: RpcParams | undefined, canonical?: string): string {
  return keyHead + (params === undefined ? '[]' : (canonical ?? stringifyJson(params, { sortKeys: true })));
}

/**
 * The key material with params[at] replaced by `placeholder` (see the file comment).
 * canonicalHead: the canonical text up to the last param, a string (RpcElement.paramsCanonicalHead),
 * where lastStringCut would cut the canonical text (a text put together, not flat: cutting it
 * would copy it whole first).
 */
export function swappedKeyMaterial(keyHead: string, params: JsonValue[], at: number, placeholder: string, canonical: string | undefined, canonicalHead?: string): string {
  const last = at === params.length - 1 && typeof params[at] === 'string';
  const head = last && canonicalHead !== undefined ? canonicalHead : lastStringCut(canonical, params, at);
  if (head !== undefined) return keyHead + head + placeholderEnd(placeholder);
  return keyMaterialAfter(keyHead, withParam(params, at, placeholder));
}

/** `<stringifyJson(placeholder)>]`, for the dialect's one placeholder: the last one is kept. */
let lastPlaceholder = '';
let lastEnd = '""]';
function placeholderEnd(placeholder: string): string {
  if (placeholder !== lastPlaceholder) {
    lastEnd = `${stringifyJson(placeholder)}]`;
    lastPlaceholder = placeholder;
  }
  return lastEnd;
}

/**
 * The compact text of `params` up to where params[at] starts (its `,` or `[` included), when
 * params[at] is a string, the last param, and `text` is the params' kept text; else undefined.
 */
export function lastStringCut(text: string | undefined, params: readonly JsonValue[], at: number): string | undefined {
  const v = params[at];
  if (text === undefined || at !== params.length - 1 || typeof v !== 'string') return undefined;
  const start = text.length - v.length - 3;
  const before = text.charCodeAt(start - 1);
  // `"v"]` at the end, after a `,` (or the `[` of a one-param list).
  const fits =
    start >= 1 &&
    (before === 0x2c || (before === 0x5b && at === 0)) &&
    text.charCodeAt(start) === 0x22 &&
    text.charCodeAt(text.length - 2) === 0x22 &&
    text.charCodeAt(text.length - 1) === 0x5d &&
    text.startsWith(v, start + 1);
  return fits ? text.slice(0, start) : undefined;
}

/** A copy of params with the value at index replaced (the parsed params are never changed). */
export function withParam(list: readonly JsonValue[], index: number, value: JsonValue): JsonValue[] {
  const out = list.slice();
  out[index] = value;
  return out;
}
