// Kept source texts: which parsed arrays and objects may be written again by copying the text
// they were parsed from, instead of serialising their members. A batch's params are parsed once,
// then written twice per call (the key material, canonical; the forwarded body, compact): copying
// their text is where that costs nothing.
//
// Cache safety: a copied text must be byte for byte what stringifyJson (json-text.ts) writes for
// the container, or two calls could share a key that should not, or the node could be asked
// something other than what was keyed. The rules below say when that holds.
import { InternalError } from '../errors.js';
import { JsonNumber, type JsonObject, type JsonValue } from './json-value.js';

/**
 * The texts of parsed containers, by identity. A container's text is kept when it has no
 * whitespace, no escape and no duplicate member (stringifyJson(v) is then that text, byte for
 * byte); it is canonical too when every object in it has its members in sorted order
 * (stringifyJson(v, { sortKeys }) is that text). Cache safety: a text stands for the container it
 * was parsed as, so parsed values are read-only — a dialect that changes params builds a new
 * array or object (slice, spread), which has no text here and is serialised from its members.
 */
export class SourceTexts {
  private readonly compact = new Map<object, string>();
  /** Containers whose compact text is not canonical → their canonical text once asked for. */
  private unsorted: Map<object, string | undefined> | undefined;

  /** @internal for TextKeeper */
  keep(container: object, text: string, sorted: boolean): void {
    this.compact.set(container, text);
    if (!sorted) (this.unsorted ??= new Map()).set(container, undefined);
  }

  /** The text stringifyJson would write for this container, if it was parsed here. */
  textOf(container: JsonValue[] | JsonObject, sortKeys: boolean): string | undefined {
    const text = this.compact.get(container);
    if (text === undefined || !sortKeys || this.unsorted?.has(container) !== true) return text;
    let canonical = this.unsorted.get(container);
    if (canonical === undefined) this.unsorted.set(container, (canonical = canonicalOfCompact(container, this)));
    return canonical;
  }
}

/**
 * The parser's side of the rules: it reports what it reads (whitespace, escapes, member names, a
 * container closing) and the keeper decides which texts are kept. Counters, not flags: a
 * container's text is kept when nothing loose was counted between its opening and its closing.
 */
export class TextKeeper {
  /** Counts what makes a text differ from stringifyJson's: whitespace, escapes, duplicate members. */
  loose = 0;
  /** Counts objects whose members are not in sorted order. */
  unsorted = 0;

  constructor(private readonly texts: SourceTexts | undefined) {}

  /** Whitespace between tokens, or an escape in a string: stringifyJson writes neither. */
  looseText(): void {
    this.loose++;
  }

  /**
   * A member name read after `previous` in one object; repeated: the object already has it.
   * A repeated member is dropped by stringifyJson (the last value, at the first one's place), and
   * integer-like names are listed first by Object.keys (so written first): in both cases the
   * source text is not the object's, wherever the member stands (`{"a":1,"c":2,"b":3,"c":4}`
   * has its repeat after a smaller name). Otherwise the text is canonical while the names come
   * sorted like Array.prototype.sort (UTF-16 code units).
   */
  member(previous: string | undefined, key: string, repeated: boolean): void {
    if (repeated || isDigit(key.charCodeAt(0))) this.loose++;
    else if (previous !== undefined && !(previous < key)) this.unsorted++;
  }

  /** A container closes: its text is s[start, end) and it opened when the counters read loose, unsorted. */
  close(container: object, s: string, start: number, end: number, loose: number, unsorted: number): void {
    if (this.texts !== undefined && this.loose === loose) this.texts.keep(container, s.slice(start, end), this.unsorted === unsorted);
  }
}

/**
 * stringifyJson(v, { sortKeys }) for a container with a kept text, from its members: no string in
 * it has an escape (and, decoded from UTF-8, none has a lone surrogate), so JSON.stringify would
 * write a string as its characters between quotes; every container in it has a kept text too
 * (anything loose inside it would have been loose inside this one).
 */
function canonicalOfCompact(v: JsonValue[] | JsonObject, texts: SourceTexts): string {
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + canonicalMember(v[i] as JsonValue, texts);
    return out + ']';
  }
  const keys = sortedKeys(v);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    out += (i > 0 ? ',"' : '"') + k + '":' + canonicalMember(v[k] as JsonValue, texts);
  }
  return out + '}';
}

function canonicalMember(v: JsonValue, texts: SourceTexts): string {
  if (typeof v === 'string') return '"' + v + '"';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof JsonNumber) return v.raw;
  const text = texts.textOf(v, true);
  // Unreachable by the rule above; a wrong text in a key must never be the fallback.
  if (text === undefined) throw new InternalError('a container inside a kept text has no kept text');
  return text;
}

/**
 * Object.keys(o).sort(): the canonical member order (UTF-16 code units; names are unique), by
 * insertion for the few members params objects have (the default sort's generic comparator costs
 * more there).
 */
export function sortedKeys(o: JsonObject): string[] {
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

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
