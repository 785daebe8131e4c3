// A small JSON parser/serialiser that keeps number literals as their exact text (the byte-level
// scanner for upstream JSON-RPC answers is rpc-answer-scan.ts).
//
// Why not JSON.parse: it turns 12345678901234567891 into 12345678901234567000, so two different
// calls would share a cache key and the forwarded request would differ from what the client sent.
import { MalformedJsonError } from '../errors.js';

/** A JSON number kept as its literal text (`1e3`, `-0`, `12345678901234567891`). */
export class JsonNumber {
  constructor(readonly raw: string) {}

  /** The exact integer value, or undefined when the literal has a fraction or exponent. */
  toBigInt(): bigint | undefined {
    return /^-?\d+$/.test(this.raw) ? BigInt(this.raw) : undefined;
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
/** Null-prototype object: a `__proto__` key is an ordinary member, never a prototype change. */
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

// fatal: invalid UTF-8 is an error, not U+FFFD (two different byte strings must not share a key).
// ignoreBOM: keep a BOM in the text so that it is rejected like any other stray character.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parses a complete JSON document; throws MalformedJsonError on any defect or too deep nesting. */
export function parseJson(input: Buffer | string, maxDepth: number): JsonValue {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = utf8.decode(input);
    } catch {
      throw new MalformedJsonError('request body is not valid UTF-8');
    }
  }
  const p = new TextParser(text, maxDepth);
  try {
    const value = p.value(0);
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
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  fail(what: string): never {
    throw new MalformedJsonError(`${what} at offset ${this.pos}`);
  }

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    this.ws();
    switch (this.s[this.pos]) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  private literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
    return v;
  }

  private number(): JsonNumber {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (m === null) this.fail(this.pos >= this.s.length ? 'unexpected end of input' : 'unexpected character');
    this.pos = NUMBER.lastIndex;
    return new JsonNumber(m[0]);
  }

  private string(): string {
    const s = this.s;
    let out = '';
    let start = ++this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(start, this.pos++);
        return out;
      }
      if (c === 0x5c) {
        out += s.slice(start, this.pos) + this.escape();
        start = this.pos;
      } else if (c < 0x20) this.fail('control character in string');
      else this.pos++;
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

  private array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    const out: JsonValue[] = [];
    this.pos++;
    this.ws();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      if (this.endOfMember(']')) return out;
    }
  }

  private object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    const out = Object.create(null) as JsonObject;
    this.pos++;
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail('expected a member name');
      const key = this.string();
      this.ws();
      if (this.s[this.pos++] !== ':') this.fail('expected ":"');
      out[key] = this.value(depth);
      if (this.endOfMember('}')) return out;
    }
  }

  /** After a member: true at the closing bracket, false after a comma. */
  private endOfMember(close: string): boolean {
    this.ws();
    const c = this.s[this.pos++];
    if (c === close) return true;
    if (c !== ',') this.fail(`expected "," or "${close}"`);
    return false;
  }
}

/**
 * Compact JSON text. Numbers are written from their literal text; strings via JSON.stringify.
 * sortKeys gives the canonical form used for cache key material (member order does not change
 * the meaning of a JSON object, so it must not change the key).
 */
export function stringifyJson(value: JsonValue, opts: { sortKeys?: boolean } = {}): string {
  const out: string[] = [];
  write(value, out, opts.sortKeys === true);
  return out.join('');
}

function write(v: JsonValue, out: string[], sortKeys: boolean): void {
  if (v === null || typeof v === 'boolean') out.push(String(v));
  else if (typeof v === 'string') out.push(JSON.stringify(v));
  else if (v instanceof JsonNumber) out.push(v.raw);
  else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((item, i) => {
      if (i > 0) out.push(',');
      write(item, out, sortKeys);
    });
    out.push(']');
  } else {
    const keys = Object.keys(v);
    if (sortKeys) keys.sort();
    out.push('{');
    keys.forEach((k, i) => {
      out.push(i > 0 ? ',' : '', JSON.stringify(k), ':');
      write(v[k] as JsonValue, out, sortKeys);
    });
    out.push('}');
  }
}
