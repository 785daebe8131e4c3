// Compact JSON text from the value model (json-value.ts): the serialiser half of json-text.ts.
// Numbers are written from their literal text, so a forwarded request carries exactly the digits
// the client sent, and sortKeys gives the canonical form cache key material is made of.
import { JsonNumber, type JsonObject, type JsonValue } from './json-value.js';

/** Characters JSON.stringify writes as they are: no quote, backslash, control or surrogate. */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** JSON.stringify for a string, without its general machinery for the usual plain string. */
function quote(s: string): string {
  return PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s);
}

/**
 * Compact JSON text. Numbers are written from their literal text; strings via JSON.stringify.
 * sortKeys gives the canonical form used for cache key material (member order does not change
 * the meaning of a JSON object, so it must not change the key).
 */
export function stringifyJson(value: JsonValue, opts: { sortKeys?: boolean } = {}): string {
  return write(value, opts.sortKeys === true);
}

function write(v: JsonValue, sortKeys: boolean): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return quote(v);
  if (v instanceof JsonNumber) return v.raw;
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + write(v[i] as JsonValue, sortKeys);
    return out + ']';
  }
  const keys = sortKeys ? sortedKeys(v) : Object.keys(v);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    out += (i > 0 ? ',' : '') + JSON.stringify(k) + ':' + write(v[k] as JsonValue, sortKeys);
  }
  return out + '}';
}

/**
 * Object.keys(o).sort(): the canonical member order (UTF-16 code units; names are unique), by
 * insertion for the few members params objects have (the default sort's generic comparator costs
 * more there).
 */
function sortedKeys(o: JsonObject): string[] {
  const keys = Object.keys(o);
  if (keys.length > 8) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > k; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = k;
  }
  return keys;
}
