// A small JSON parser/serialiser that keeps number literals as their exact text, plus a byte-level
// scanner for upstream JSON-RPC answers.
//
// Why not JSON.parse: it turns 12345678901234567891 into 12345678901234567000, so two different
// calls would share a cache key and the forwarded request would differ from what the client sent.
// Why a byte scanner for answers: the bytes the node sent are what we store and serve; slicing the
// original body avoids a parse + re-serialise that could change numbers, escapes or key order.
import { MalformedJsonError, UpstreamBadResponseError } from '../errors.js';

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

// ---- upstream answer scanner ---------------------------------------------------------------
// Works on bytes: every JSON structural character is ASCII and UTF-8 continuation bytes are all
// >= 0x80, so byte offsets found here slice the body without decoding it. Nesting is tracked
// with an explicit stack (no depth limit: a deep result from a node is legitimate, and no
// recursion means it cannot overflow the call stack).

/** One JSON-RPC answer; result/error are slices of the upstream body (exactly one is set). */
export interface ScannedRpcResponse {
  /** The `id` member's raw text; `null` when absent. */
  idRaw: string;
  result?: Buffer;
  error?: Buffer;
}

const Q = 0x22, BS = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const LBRACE = 0x7b, RBRACE = 0x7d, LBRACK = 0x5b, RBRACK = 0x5d;

/** Scans a JSON-RPC answer (one object or an array of them); throws UpstreamBadResponseError. */
export function scanRpcResponse(body: Buffer): ScannedRpcResponse[] {
  const s = new ByteScanner(body);
  s.ws();
  const items: ScannedRpcResponse[] = [];
  if (s.peek() === LBRACK) {
    s.pos++;
    s.ws();
    if (s.peek() === RBRACK) s.pos++;
    else
      do items.push(s.responseObject());
      while (s.listContinues(RBRACK));
  } else items.push(s.responseObject());
  s.ws();
  if (s.pos !== body.length) s.fail('unexpected data after the answer');
  return items;
}

class ByteScanner {
  pos = 0;
  constructor(private readonly b: Buffer) {}

  fail(what: string): never {
    throw new UpstreamBadResponseError(`upstream answer is not valid JSON-RPC: ${what} at byte ${this.pos}`);
  }

  peek(): number | undefined {
    return this.b[this.pos];
  }

  ws(): void {
    for (let c = this.b[this.pos]; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = this.b[++this.pos]);
  }

  expect(c: number): void {
    this.ws();
    if (this.b[this.pos] !== c) this.fail(`expected "${String.fromCharCode(c)}"`);
    this.pos++;
  }

  /** After an element: true after a comma, false after the closing bracket. */
  listContinues(close: number): boolean {
    this.ws();
    const c = this.b[this.pos++];
    if (c === COMMA) return true;
    if (c !== close) this.fail(`expected "," or "${String.fromCharCode(close)}"`);
    return false;
  }

  responseObject(): ScannedRpcResponse {
    this.expect(LBRACE);
    const members = new Map<string, Buffer>();
    this.ws();
    if (this.peek() === RBRACE) this.pos++;
    else
      do {
        const key = this.memberName();
        this.ws();
        const start = this.pos;
        this.skipValue();
        members.set(key, this.b.subarray(start, this.pos));
      } while (this.listContinues(RBRACE));
    return this.toResponse(members);
  }

  private toResponse(m: Map<string, Buffer>): ScannedRpcResponse {
    const idRaw = m.get('id')?.toString('utf8') ?? 'null';
    const error = m.get('error');
    const result = m.get('result');
    // Some nodes send `"error": null` next to a result (JSON-RPC 1.0 habit): that is a result.
    if (error !== undefined && !isNullText(error)) return { idRaw, error };
    if (result !== undefined) return { idRaw, result };
    return this.fail('answer has neither result nor error');
  }

  /** A member name and its colon; names with escapes are decoded (rare, but legal). */
  private memberName(): string {
    const raw = this.skipMemberName();
    return raw.includes(BS) ? (JSON.parse(raw.toString('utf8')) as string) : raw.toString('latin1', 1, raw.length - 1);
  }

  /** Skips a member name and its colon; returns the quoted name's bytes. */
  private skipMemberName(): Buffer {
    this.ws();
    const start = this.pos;
    if (this.peek() !== Q) this.fail('expected a member name');
    this.skipString();
    const end = this.pos;
    this.expect(COLON);
    return this.b.subarray(start, end);
  }

  /** Skips one value, validating its grammar; containers are tracked on an explicit stack. */
  skipValue(): void {
    const closers: number[] = [];
    for (;;) {
      this.ws();
      const c = this.peek();
      if (c === LBRACE || c === LBRACK) {
        const close = c === LBRACE ? RBRACE : RBRACK;
        this.pos++;
        this.ws();
        if (this.peek() === close) this.pos++;
        else {
          closers.push(close);
          if (close === RBRACE) this.skipMemberName();
          continue;
        }
      } else this.skipScalar(c);
      if (!this.afterValue(closers)) return;
    }
  }

  /** After a value inside containers: closes finished ones; false when the outermost is done. */
  private afterValue(closers: number[]): boolean {
    for (let close = closers.at(-1); close !== undefined; close = closers.at(-1)) {
      if (!this.listContinues(close)) {
        closers.pop();
        continue;
      }
      if (close === RBRACE) this.skipMemberName();
      return true;
    }
    return false;
  }

  private skipScalar(c: number | undefined): void {
    if (c === Q) this.skipString();
    else if (c === 0x74) this.skipWord('true');
    else if (c === 0x66) this.skipWord('false');
    else if (c === 0x6e) this.skipWord('null');
    else this.skipNumber();
  }

  private skipWord(word: string): void {
    if (this.b.toString('latin1', this.pos, this.pos + word.length) !== word) this.fail('invalid literal');
    this.pos += word.length;
  }

  private skipString(): void {
    const b = this.b;
    for (let p = this.pos + 1; p < b.length; p++) {
      const c = b[p] as number;
      if (c === Q) {
        this.pos = p + 1;
        return;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === BS) {
        const e = b[++p];
        if (e === 0x75) {
          if (!/^[0-9a-fA-F]{4}$/.test(b.toString('latin1', p + 1, p + 5))) this.fail('invalid escape');
          p += 4;
        } else if (e === undefined || !'"\\/bfnrt'.includes(String.fromCharCode(e))) this.fail('invalid escape');
      }
    }
    this.fail('unterminated string');
  }

  private skipNumber(): void {
    const b = this.b;
    const digits = (): number => {
      const from = this.pos;
      for (let c = b[this.pos]; c !== undefined && c >= 0x30 && c <= 0x39; c = b[++this.pos]);
      return this.pos - from;
    };
    if (b[this.pos] === 0x2d) this.pos++;
    if (b[this.pos] === 0x30) this.pos++;
    else if (digits() === 0) this.fail('unexpected character');
    if (b[this.pos] === 0x2e && (this.pos++, digits() === 0)) this.fail('invalid number');
    if (b[this.pos] === 0x65 || b[this.pos] === 0x45) {
      this.pos++;
      if (b[this.pos] === 0x2b || b[this.pos] === 0x2d) this.pos++;
      if (digits() === 0) this.fail('invalid number');
    }
  }
}

function isNullText(b: Buffer): boolean {
  return b.length === 4 && b.toString('latin1') === 'null';
}
