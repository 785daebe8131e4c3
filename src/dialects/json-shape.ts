// Is this body JSON, and what is it at its top level? Answered on the bytes, with exactly the
// verdict of `JSON.parse(body.toString('utf8'))`, for the answer judge (aptos-answers.ts), which
// asks it of every REST answer: validating in place builds no string and no object tree.
//
// Why the bytes give JSON.parse's verdict: every JSON structural character is ASCII, and UTF-8
// decoding (invalid sequences become U+FFFD, one per maximal bad subpart) never consumes or yields
// an ASCII byte except as itself. So the decoded text has the same ASCII characters in the same
// order, and every other byte becomes characters at or above U+0080: legal inside a string, a
// syntax error anywhere else — which is how a byte >= 0x80 is judged here. A BOM is no exception
// (JSON.parse refuses U+FEFF). Nesting has no limit (V8's parser has none): an explicit stack.
import { constants } from 'node:buffer';

export type JsonShape = 'object' | 'array' | 'string' | 'number' | 'literal';

const TAB = 0x09, LF = 0x0a, CR = 0x0d, SPACE = 0x20, QUOTE = 0x22, PLUS = 0x2b, COMMA = 0x2c, MINUS = 0x2d, DOT = 0x2e;
const ZERO = 0x30, NINE = 0x39, COLON = 0x3a, LBRACK = 0x5b, BACKSLASH = 0x5c, RBRACK = 0x5d, LBRACE = 0x7b, RBRACE = 0x7d;
const OBJECT = 1, ARRAY = 2;
const TRUE = Buffer.from('true'), FALSE = Buffer.from('false'), NULL = Buffer.from('null');

/** The top-level kind of a body that parses as JSON; undefined when JSON.parse would throw. */
export function jsonShape(body: Buffer): JsonShape | undefined {
  // Past the longest string V8 makes, toString itself throws: keep that verdict exactly.
  if (body.length > constants.MAX_STRING_LENGTH) return parsedShape(body);
  const start = skipWs(body, 0);
  const shape = shapeAt(body[start]);
  if (shape === undefined) return undefined;
  const end = skipValue(body, start);
  return end >= 0 && skipWs(body, end) === body.length ? shape : undefined;
}

/**
 * What the body is at its top level if it is JSON at all, from its first character: jsonShape
 * is this or undefined, so a body whose lead is not the wanted shape is refused without a scan.
 */
export function leadingShape(body: Buffer): JsonShape | undefined {
  return shapeAt(body[skipWs(body, 0)]);
}

/** The same verdict through JSON.parse (what jsonShape stands for; kept for bodies V8 cannot decode). */
export function parsedShape(body: Buffer): JsonShape | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc === 'string') return 'string';
  if (typeof doc === 'number') return 'number';
  if (typeof doc === 'object' && doc !== null) return Array.isArray(doc) ? 'array' : 'object';
  return 'literal';
}

function shapeAt(c: number | undefined): JsonShape | undefined {
  if (c === LBRACE) return 'object';
  if (c === LBRACK) return 'array';
  if (c === QUOTE) return 'string';
  if (c === MINUS || (c !== undefined && c >= ZERO && c <= NINE)) return 'number';
  if (c === 0x74 || c === 0x66 || c === 0x6e) return 'literal'; // t f n
  return undefined;
}

/** Open containers of the value being skipped, reused (grown for deep bodies, then let go). */
let stack = new Uint8Array(64);

function push(depth: number, kind: number): void {
  if (depth === stack.length) {
    const grown = new Uint8Array(stack.length * 2);
    grown.set(stack);
    stack = grown;
  }
  stack[depth] = kind;
}

/** The offset just past the JSON value at `i`, or -1 when there is none there. */
function skipValue(b: Buffer, i: number): number {
  let depth = 0;
  try {
    for (;;) {
      // At a value.
      const c = b[i];
      if (c === LBRACE || c === LBRACK) {
        const close = c === LBRACE ? RBRACE : RBRACK;
        i = skipWs(b, i + 1);
        if (b[i] === close) i++;
        else {
          push(depth++, c === LBRACE ? OBJECT : ARRAY);
          if (c === LBRACE && (i = memberName(b, i)) < 0) return -1;
          i = skipWs(b, i);
          continue;
        }
      } else if ((i = scalar(b, i, c)) < 0) return -1;
      // After a value: close what ends here, or move on to the next element.
      for (;;) {
        if (depth === 0) return i;
        i = skipWs(b, i);
        const kind = stack[depth - 1];
        const d = b[i];
        if (d === COMMA) {
          i = skipWs(b, i + 1);
          if (kind === OBJECT && (i = skipWs(b, memberName(b, i))) < 0) return -1;
          break;
        }
        if (d !== (kind === OBJECT ? RBRACE : RBRACK)) return -1;
        depth--;
        i++;
      }
    }
  } finally {
    if (stack.length > 4096) stack = new Uint8Array(64);
  }
}

/** At an object member: its name and the colon; the offset after the colon, or -1. */
function memberName(b: Buffer, i: number): number {
  if (b[i] !== QUOTE) return -1;
  i = skipWs(b, skipString(b, i));
  return i >= 0 && b[i] === COLON ? skipWs(b, i + 1) : -1;
}

function scalar(b: Buffer, i: number, c: number | undefined): number {
  if (c === QUOTE) return skipString(b, i);
  if (c === MINUS || (c !== undefined && c >= ZERO && c <= NINE)) return skipNumber(b, i);
  if (c === 0x74) return word(b, i, TRUE);
  if (c === 0x66) return word(b, i, FALSE);
  if (c === 0x6e) return word(b, i, NULL);
  return -1;
}

function word(b: Buffer, i: number, w: Buffer): number {
  for (let k = 0; k < w.length; k++) if (b[i + k] !== w[k]) return -1;
  return i + w.length;
}

/** At a quote: past the closing quote, or -1 (unterminated, a raw control character, a bad escape). */
function skipString(b: Buffer, i: number): number {
  if (i < 0) return -1;
  const n = b.length;
  for (i++; i < n; ) {
    const c = b[i] as number;
    if (c === QUOTE) return i + 1;
    if (c < SPACE) return -1;
    if (c !== BACKSLASH) {
      i++;
      continue;
    }
    const e = b[i + 1];
    if (e === 0x75) {
      // A \u escape: four hex digits must follow.
      for (let k = 2; k < 6; k++) if (!isHex(b[i + k])) return -1;
      i += 6;
    } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
    else return -1;
  }
  return -1;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= ZERO && c <= NINE) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));
}

/** `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`: past it, or -1. */
function skipNumber(b: Buffer, i: number): number {
  if (b[i] === MINUS) i++;
  if (b[i] === ZERO) i++;
  else if (isDigit(b[i])) i = skipDigits(b, i);
  else return -1;
  if (b[i] === DOT) {
    if (!isDigit(b[i + 1])) return -1;
    i = skipDigits(b, i + 1);
  }
  const e = b[i];
  if (e === 0x65 || e === 0x45) {
    i++;
    if (b[i] === PLUS || b[i] === MINUS) i++;
    if (!isDigit(b[i])) return -1;
    i = skipDigits(b, i);
  }
  return i;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

function skipDigits(b: Buffer, i: number): number {
  while (isDigit(b[i])) i++;
  return i;
}

function skipWs(b: Buffer, i: number): number {
  if (i < 0) return i;
  for (let c = b[i]; c === SPACE || c === LF || c === CR || c === TAB; c = b[++i]);
  return i;
}
