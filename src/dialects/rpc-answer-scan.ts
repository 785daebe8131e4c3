// A byte-level scanner for upstream JSON-RPC answers. The bytes the node sent are what the proxy
// stores and serves; slicing the original body avoids a parse + re-serialise that could change
// numbers, escapes or key order.
import { UpstreamBadResponseError } from '../errors.js';

// Works on bytes: every JSON structural character is ASCII and UTF-8 continuation bytes are all
// >= 0x80, so byte offsets found here slice the body without decoding it. Nesting is tracked
// with an explicit stack (no depth limit: a deep result from a node is legitimate, and no
// recursion means it cannot overflow the call stack).

/**
 * One JSON-RPC answer: its id's raw text and where its `result` or `error` value lies in the
 * upstream body (exactly one of them is set). The value is kept as a byte range, not a Buffer: a
 * view of the body costs an object and a typed-array construction per call, and the fetcher makes
 * the one Buffer a stored answer keeps straight from the range (pipeline/fetch-rpc.ts packs small
 * results into a slab); result and error make a view only when read.
 */
export class ScannedRpcResponse {
  constructor(
    private readonly body: Buffer,
    /** The `id` member's raw text; `null` when absent. */
    readonly idRaw: string,
    /** body[start, end) is the value. */
    readonly start: number,
    readonly end: number,
    /** The value is the `error` member's (else the `result` member's). */
    readonly isError: boolean,
  ) {}

  /** The result's bytes (a view of the body, made per read); undefined for an error answer. */
  get result(): Buffer | undefined {
    return this.isError ? undefined : this.body.subarray(this.start, this.end);
  }

  /** The error object's bytes (a view of the body, made per read); undefined for a result. */
  get error(): Buffer | undefined {
    return this.isError ? this.body.subarray(this.start, this.end) : undefined;
  }

  /** The value is the literal `null` (the scanner trims no whitespace inside the range). */
  get isNull(): boolean {
    return isNullAt(this.body, this.start, this.end);
  }
}

const Q = 0x22, BS = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const LBRACE = 0x7b, RBRACE = 0x7d, LBRACK = 0x5b, RBRACK = 0x5d;

/**
 * One scan per answer body: the judge (upstream/failover.ts) and the fetcher that hands the items
 * out (pipeline/fetch-rpc.ts) both read the same upstream body; the second gets the first's items.
 * Callers only read them. Failures are not remembered (they throw again, the same way).
 */
const scans = new WeakMap<Buffer, ScannedRpcResponse[]>();

/** Scans a JSON-RPC answer (one object or an array of them); throws UpstreamBadResponseError. */
export function scanRpcResponse(body: Buffer): ScannedRpcResponse[] {
  let items = scans.get(body);
  if (items === undefined) {
    items = scanOnce(body);
    scans.set(body, items);
  }
  return items;
}

function scanOnce(body: Buffer): ScannedRpcResponse[] {
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

  /**
   * One answer object. Members are found by their byte ranges (no map, no slice per member): only
   * the `result` or `error` value the answer is made of becomes a Buffer (a view of the body).
   * A repeated member counts once, the last one, as JSON.parse would read it.
   */
  responseObject(): ScannedRpcResponse {
    this.expect(LBRACE);
    let id = -1, idEnd = -1, result = -1, resultEnd = -1, error = -1, errorEnd = -1;
    this.ws();
    if (this.peek() === RBRACE) this.pos++;
    else
      do {
        const member = this.memberName();
        this.ws();
        const start = this.pos;
        this.skipValue();
        if (member === ID) (id = start), (idEnd = this.pos);
        else if (member === RESULT) (result = start), (resultEnd = this.pos);
        else if (member === ERROR) (error = start), (errorEnd = this.pos);
      } while (this.listContinues(RBRACE));
    const idRaw = id < 0 ? 'null' : idText(this.b, id, idEnd);
    // Some nodes send `"error": null` next to a result (JSON-RPC 1.0 habit): that is a result.
    if (error >= 0 && !isNullAt(this.b, error, errorEnd)) return new ScannedRpcResponse(this.b, idRaw, error, errorEnd, true);
    if (result >= 0) return new ScannedRpcResponse(this.b, idRaw, result, resultEnd, false);
    return this.fail('answer has neither result nor error');
  }

  /** A member name and its colon: which of the members that matter it is (OTHER for the rest). */
  private memberName(): number {
    this.ws();
    const start = this.pos;
    if (this.peek() !== Q) this.fail('expected a member name');
    const escaped = this.skipString();
    const end = this.pos;
    this.expect(COLON);
    // Names with escapes are decoded (rare, but legal).
    return escaped ? memberOf(JSON.parse(this.b.toString('utf8', start, end)) as string) : memberAt(this.b, start + 1, end - 1);
  }

  /** Skips a member name and its colon. */
  private skipMemberName(): void {
    this.ws();
    if (this.peek() !== Q) this.fail('expected a member name');
    this.skipString();
    this.expect(COLON);
  }

  /** Skips one value, validating its grammar; containers are tracked on an explicit stack. */
  skipValue(): void {
    const first = this.peek();
    if (first !== LBRACE && first !== LBRACK) {
      this.skipScalar(first);
      return;
    }
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
    for (let i = 0; i < word.length; i++) if (this.b[this.pos + i] !== word.charCodeAt(i)) this.fail('invalid literal');
    this.pos += word.length;
  }

  /** Skips a string; true when it holds an escape. */
  private skipString(): boolean {
    const b = this.b;
    let escaped = false;
    for (let p = this.pos + 1; p < b.length; p++) {
      const c = b[p] as number;
      if (c === Q) {
        this.pos = p + 1;
        return escaped;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === BS) {
        escaped = true;
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
    if (b[this.pos] === 0x2d) this.pos++;
    if (b[this.pos] === 0x30) this.pos++;
    else if (this.digits() === 0) this.fail('unexpected character');
    if (b[this.pos] === 0x2e && (this.pos++, this.digits() === 0)) this.fail('invalid number');
    if (b[this.pos] === 0x65 || b[this.pos] === 0x45) {
      this.pos++;
      if (b[this.pos] === 0x2b || b[this.pos] === 0x2d) this.pos++;
      if (this.digits() === 0) this.fail('invalid number');
    }
  }

  /** Skips a run of digits; how many. A method, not a closure made per number (every answer's id is one). */
  private digits(): number {
    const b = this.b;
    const from = this.pos;
    for (let c = b[this.pos]; c !== undefined && c >= 0x30 && c <= 0x39; c = b[++this.pos]);
    return this.pos - from;
  }
}

const OTHER = 0, ID = 1, RESULT = 2, ERROR = 3;

function memberOf(name: string): number {
  return name === 'id' ? ID : name === 'result' ? RESULT : name === 'error' ? ERROR : OTHER;
}

/** memberOf for the unescaped name at b[start, end). */
function memberAt(b: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length === 2) return b[start] === 0x69 && b[start + 1] === 0x64 ? ID : OTHER;
  if (length === 6) return equalsAt(b, start, 'result') ? RESULT : OTHER;
  if (length === 5) return equalsAt(b, start, 'error') ? ERROR : OTHER;
  return OTHER;
}

function equalsAt(b: Buffer, start: number, ascii: string): boolean {
  for (let i = 0; i < ascii.length; i++) if (b[start + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

function isNullAt(b: Buffer, start: number, end: number): boolean {
  return end - start === 4 && equalsAt(b, start, 'null');
}

/**
 * The id's raw text. The ids the proxy sends are small integers: their text is made from the
 * digits without decoding the bytes (a number of at most 15 digits without a leading zero reads
 * back as the same text; the scanner has validated its grammar, so a leading zero is a lone "0").
 */
function idText(b: Buffer, start: number, end: number): string {
  if (end - start <= 15) {
    let n = 0;
    let p = start;
    for (; p < end; p++) {
      const c = b[p] as number;
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + (c - 0x30);
    }
    if (p === end) return String(n);
  }
  return b.toString('utf8', start, end);
}

/**
 * The call an answer's id names in an upstream request whose calls were sent with ids 0..n-1:
 * its index when the id is exactly the text of one of them (`0`, `17`; not `"0"`, `1.0`, `01`),
 * otherwise -1.
 */
export function upstreamIndex(idRaw: string, n: number): number {
  const length = idRaw.length;
  if (length === 0 || length > 15 || (length > 1 && idRaw.charCodeAt(0) === 0x30)) return -1;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const c = idRaw.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    value = value * 10 + (c - 0x30);
  }
  return value < n ? value : -1;
}
