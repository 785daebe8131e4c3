// A small JSON parser/serialiser that keeps number literals as their exact text (the byte-level
// scanner for upstream JSON-RPC answers is rpc-answer-scan.ts). The value model is json-value.ts;
// which params texts of a JSON-RPC request are kept, to be copied instead of serialised, is
// json-canonical-text.ts (TextKeeper: the parser only reports what it reads there).
//
// Why not JSON.parse: it turns 12345678901234567891 into 12345678901234567000, so two different
// calls would share a cache key and the forwarded request would differ from what the client sent.
import { MalformedJsonError } from '../errors.js';
import { CanonicalTexts, TextKeeper } from './json-canonical-text.js';
import { RpcElement } from './rpc-element.js';
import { JsonNumber, type JsonObject, type JsonValue } from './json-value.js';

export { JsonNumber, isJsonObject, type JsonObject, type JsonValue } from './json-value.js';
export { RpcElement } from './rpc-element.js';
export { stringifyJson } from './json-stringify.js';

// fatal: invalid UTF-8 is an error, not U+FFFD (two different byte strings must not share a key).
// ignoreBOM: keep a BOM in the text so that it is rejected like any other stray character.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** What number() accepts (its hand-written scan follows this): `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`. */
/** The envelope's member names by their first character (see TextParser.envelopeName). */
const ENVELOPE_NAMES: Array<string | undefined> = [];
for (const name of ['jsonrpc', 'id', 'method', 'params']) ENVELOPE_NAMES[name.charCodeAt(0)] = name;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parses a complete JSON document; throws MalformedJsonError on any defect or too deep nesting. */
export function parseJson(input: Buffer | string, maxDepth: number): JsonValue {
  return parseText(typeof input === 'string' ? input : decode(input), maxDepth, false) as JsonValue;
}

/** A JSON-RPC request document: one request object, or an array whose objects are requests. */
export type RpcDocument = RpcElement | JsonValue | Array<RpcElement | JsonValue>;

/**
 * parseJson for a JSON-RPC request: the request objects (the document, or the elements of a
 * top-level array) come back as RpcElement, with the texts of their params where those are exact
 * (RpcElement.paramsText). Accepts and rejects exactly what parseJson does. Only for bytes: the
 * fatal UTF-8 decoder guarantees a well-formed string (no lone surrogate, which JSON.stringify
 * would escape), so a kept text is what serialising writes.
 */
export function parseRpcDocument(input: Buffer, maxDepth: number): { value: RpcDocument } {
  return { value: parseText(decode(input), maxDepth, true) };
}

function decode(input: Buffer): string {
  try {
    return utf8.decode(input);
  } catch {
    throw new MalformedJsonError('request body is not valid UTF-8');
  }
}

function parseText(text: string, maxDepth: number, rpc: boolean): RpcDocument {
  const p = new TextParser(text, maxDepth, rpc);
  try {
    const value = rpc ? p.rpcDocument() : p.value(0);
    p.ws();
    if (p.pos !== text.length) p.fail('unexpected data after the JSON value');
    return value;
  } catch (err) {
    // A configured depth larger than the call stack allows must still end as a client error.
    if (err instanceof RangeError) throw new MalformedJsonError('JSON nesting too deep', { cause: err });
    throw err;
  }
}

class TextParser {
  pos = 0;
  /** Whether a container's text is compact (json-canonical-text.ts): told about everything that matters. */
  private readonly keeper = new TextKeeper();
  /** For a JSON-RPC document: the canonical texts of compact containers, as they are read. */
  private readonly canonical: CanonicalTexts | undefined;
  /**
   * With `canonical`: the canonical text of the value just read, when it is a compact container
   * whose canonical text differs from its source text; else undefined.
   */
  private canon: string | undefined = undefined;
  /**
   * The elements of the open arrays, innermost last (from itemsTop down): an array is made at its
   * close, at its length, by one slice. Pushed one by one, a two-param list had room for 17.
   */
  private readonly items: JsonValue[] = [];
  private itemsTop = 0;
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    rpc: boolean,
  ) {
    this.canonical = rpc ? new CanonicalTexts() : undefined;
  }

  fail(what: string): never {
    throw new MalformedJsonError(`${what} at offset ${this.pos}`);
  }

  ws(): void {
    const s = this.s;
    const from = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
    if (this.pos !== from) this.keeper.looseText();
  }

  value(depth: number): JsonValue {
    this.ws();
    // By character code (NaN past the end: a number, which fails there as 'unexpected end').
    const c = this.s.charCodeAt(this.pos);
    if (c === 0x7b) return this.object(depth + 1);
    if (c === 0x5b) return this.array(depth + 1);
    // Not a container: its canonical text is its source text (when compact).
    this.canon = undefined;
    switch (c) {
      case 0x22:
        return this.string();
      case 0x74:
        return this.literal('true', true);
      case 0x66:
        return this.literal('false', false);
      case 0x6e:
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  /** The whole document as JSON-RPC requests (see parseRpcDocument). */
  rpcDocument(): RpcDocument {
    this.ws();
    const c = this.s[this.pos];
    if (c === '{') return this.envelope(1);
    return c === '[' ? this.array(1, true) : this.value(0);
  }

  /** A member's name and its ':' (the position is then at the value). */
  private memberName(): string {
    this.ws();
    if (this.s[this.pos] !== '"') this.fail('expected a member name');
    const key = this.string();
    this.ws();
    if (this.s[this.pos++] !== ':') this.fail('expected ":"');
    return key;
  }

  /**
   * memberName() for the four names an envelope is made of, written plainly (`"id"`, no escape):
   * the constant name, without a string made per member of every call. undefined: any other name
   * (memberName reads it).
   */
  private envelopeName(): string | undefined {
    this.ws();
    const s = this.s;
    const at = this.pos;
    if (s.charCodeAt(at) !== 0x22) return undefined;
    const name = ENVELOPE_NAMES[s.charCodeAt(at + 1) & 0x7f];
    if (name === undefined || !s.startsWith(name, at + 1) || s.charCodeAt(at + 1 + name.length) !== 0x22) return undefined;
    this.pos = at + name.length + 2;
    this.ws();
    if (s[this.pos++] !== ':') this.fail('expected ":"');
    return name;
  }

  /** A request object: object() with the envelope's members kept in an RpcElement. */
  private envelope(depth: number): RpcElement {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    const out = new RpcElement();
    this.pos++;
    this.ws();
    if (this.s[this.pos] === '}') this.pos++;
    else
      do {
        const key = this.envelopeName() ?? this.memberName();
        const v = this.envelopeValue(key, out, depth);
        if (key === 'jsonrpc') out.jsonrpc = v;
        else if (key === 'id') out.id = v;
        else if (key === 'method') out.method = v;
        else if (key === 'params') out.params = v;
      } while (!this.endOfMember('}'));
    return out;
  }

  /**
   * A member's value; `params` with its texts kept in `out` when it is a compact container (the
   * last `params` member counts, as for the value).
   */
  private envelopeValue(key: string, out: RpcElement, depth: number): JsonValue {
    if (key !== 'params') return this.value(depth);
    this.ws();
    const start = this.pos;
    const loose = this.keeper.loose;
    const c = this.s.charCodeAt(start);
    const v = this.value(depth);
    if (this.keeper.loose !== loose || (c !== 0x5b && c !== 0x7b)) out.keepParams(undefined, undefined, undefined);
    else {
      const text = this.s.slice(start, this.pos);
      // canon set: the params' own close made it (and lastHead with it) if they are a list.
      const head = this.canon !== undefined && c === 0x5b ? this.canonical?.lastHead : undefined;
      out.keepParams(text, this.canon ?? text, head);
    }
    return v;
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
    return v;
  }

  /** A number as the grammar above reads it, scanned by hand: the regex's match array was an allocation per number. */
  private number(): JsonNumber {
    const s = this.s;
    const start = this.pos;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const first = s.charCodeAt(i);
    if (first === 0x30) i++;
    else if (first >= 0x31 && first <= 0x39) i = digitsEnd(s, i + 1);
    else this.fail(this.pos >= s.length ? 'unexpected end of input' : 'unexpected character');
    if (s.charCodeAt(i) === 0x2e && isDigit(s.charCodeAt(i + 1))) i = digitsEnd(s, i + 2);
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      const sign = s.charCodeAt(i + 1);
      const at = sign === 0x2b || sign === 0x2d ? i + 2 : i + 1;
      if (isDigit(s.charCodeAt(at))) i = digitsEnd(s, at + 1);
    }
    this.pos = i;
    return new JsonNumber(s.slice(start, i));
  }

  /** The scan runs on a local index (a field written per character cost a store each); pos is set before any call. */
  private string(): string {
    const s = this.s;
    const end = s.length;
    let out = '';
    let i = this.pos + 1;
    let start = i;
    for (;;) {
      if (i >= end) {
        this.pos = i;
        this.fail('unterminated string');
      }
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.pos = i + 1;
        return out + s.slice(start, i);
      }
      if (c === 0x5c) {
        this.pos = i;
        this.keeper.looseText();
        out += s.slice(start, i) + this.escape();
        i = start = this.pos;
      } else if (c < 0x20) {
        this.pos = i;
        this.fail('control character in string');
      } else i++;
    }
  }

  /** At a backslash: returns the escaped character(s) and moves past the escape. */
  private escape(): string {
    const e = this.s[this.pos + 1] ?? '';
    const simple = ESCAPES[e];
    if (simple !== undefined) {
      this.pos += 2;
      return simple;
    }
    const hex = this.s.slice(this.pos + 2, this.pos + 6);
    if (e !== 'u' || !/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid escape');
    this.pos += 6;
    return String.fromCharCode(parseInt(hex, 16));
  }

  /** requests: the top level of a JSON-RPC batch (its objects are requests, its text is not kept). */
  private array(depth: number, requests = false): JsonValue[] {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.pos++;
    const loose = this.keeper.loose;
    const canonical = requests ? undefined : this.canonical;
    const base = canonical?.open() ?? 0;
    const items = this.items;
    const first = this.itemsTop;
    this.ws();
    if (this.s[this.pos] === ']') this.pos++;
    else
      do {
        const at = this.pos;
        // (An element's own arrays were taken off the stack at their close: itemsTop is back.)
        const v = requests ? this.request(depth) : this.value(depth);
        items[this.itemsTop++] = v;
        canonical?.add('', at, this.pos, this.canon);
      } while (!this.endOfMember(']'));
    const out = items.slice(first, this.itemsTop);
    this.itemsTop = first;
    if (requests) return out;
    if (canonical !== undefined) this.canon = this.closeCanonical(canonical, base, loose, false, false);
    return out;
  }

  /** The canonical text of a container that closes (see canon); it opened when keeper.loose read `loose`. */
  private closeCanonical(canonical: CanonicalTexts, base: number, loose: number, object: boolean, unsorted: boolean): string | undefined {
    if (this.keeper.loose !== loose) {
      canonical.drop(base);
      return undefined;
    }
    return object ? canonical.closeObject(this.s, base, unsorted) : canonical.closeArray(this.s, base);
  }

  /** An element of a batch: a request object, or any other value (answered as invalid). */
  private request(depth: number): JsonValue {
    this.ws();
    // Typed as a JsonValue only for the array that holds it: parseRpcDocument's type says what it is.
    return this.s[this.pos] === '{' ? (this.envelope(depth + 1) as unknown as JsonValue) : this.value(depth);
  }

  private object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    const out = Object.create(null) as JsonObject;
    this.pos++;
    const loose = this.keeper.loose;
    const canonical = this.canonical;
    const base = canonical?.open() ?? 0;
    let outOfOrder = false;
    this.ws();
    if (this.s[this.pos] === '}') this.pos++;
    else {
      let previous: string | undefined;
      do {
        const key = this.memberName();
        this.keeper.member(key, out[key] !== undefined);
        // Out of order: the canonical text sorts the members (a repeat or integer-like name is loose anyway).
        if (previous !== undefined && !(previous < key)) outOfOrder = true;
        previous = key;
        const at = this.pos;
        out[key] = this.value(depth);
        canonical?.add(key, at, this.pos, this.canon);
      } while (!this.endOfMember('}'));
    }
    if (canonical !== undefined) this.canon = this.closeCanonical(canonical, base, loose, true, outOfOrder);
    return out;
  }

  /** After a member: true at the closing bracket, false after a comma. */
  private endOfMember(close: '}' | ']'): boolean {
    this.ws();
    const c = this.s.charCodeAt(this.pos++);
    if (c === (close === '}' ? 0x7d : 0x5d)) return true;
    if (c !== 0x2c) this.fail(`expected "," or "${close}"`);
    return false;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The index after the digits that start at i. */
function digitsEnd(s: string, i: number): number {
  while (isDigit(s.charCodeAt(i))) i++;
  return i;
}
