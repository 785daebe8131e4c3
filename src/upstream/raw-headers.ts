// A node's raw answer headers (undici hands the dispatch handler name/value Buffers) as the parsed
// record undici's own `util.parseHeaders` makes — the same keys in the same order, repeats as
// arrays, `__proto__` as an own key — with its two per-header costs cut for a node that answers
// alike every time:
// - a name undici does not know (`x-aptos-ledger-version`...) cost a latin1 decode and a
//   toLowerCase on every answer, a known one a walk of undici's name tree;
// - values that repeat (`application/json; charset=utf-8`, chain id `1`, `keep-alive`) were decoded
//   into a new string each time.
// Each position of the header list remembers the bytes it last saw and the string they gave; the
// same bytes at the same position reuse that string (names through undici's own headerNameToString,
// so its verdict stands). Comparing a short byte run costs less than decoding it, and a node sends
// its headers in the same order on every answer. Strings are immutable: sharing one is invisible.
import { util as undiciUtil } from 'undici';

type Parsed = Record<string, string | string[] | undefined>;

/** How many header positions are remembered (nodes send about a dozen headers). */
const POSITIONS = 32;
/** Longer names or values are decoded every time (a date, a cookie: rarely equal, costly to keep). */
const MAX_REMEMBERED = 64;

class Slot {
  bytes: Buffer | undefined;
  text = '';
}

const names: Slot[] = Array.from({ length: POSITIONS }, () => new Slot());
const values: Slot[] = Array.from({ length: POSITIONS }, () => new Slot());

/** What undici's util.parseHeaders(raw) returns, for raw name/value Buffer pairs. */
export function parseRawHeaders(raw: readonly Buffer[]): Parsed {
  const obj: Parsed = {};
  for (let i = 0; i < raw.length; i += 2) {
    const at = i >> 1;
    const key = remembered(names, at, raw[i] as Buffer, nameOf);
    const value = remembered(values, at, raw[i + 1] as Buffer, latin1);
    const val = obj[key];
    if (val === undefined) obj[key] = value;
    else if (!Object.hasOwn(obj, key)) ownKey(obj, key, value);
    else if (typeof val === 'string') obj[key] = [val, value];
    else val.push(value);
  }
  return obj;
}

/** A name shadowing an inherited one (`constructor`, `__proto__`): set as an own key, as undici does. */
function ownKey(obj: Parsed, key: string, value: string): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, configurable: true, writable: true });
  else obj[key] = value;
}

function remembered(slots: Slot[], at: number, bytes: Buffer, decode: (b: Buffer) => string): string {
  const slot = slots[at];
  if (slot === undefined || bytes.length > MAX_REMEMBERED) return decode(bytes);
  if (slot.bytes !== undefined && sameBytes(slot.bytes, bytes)) return slot.text;
  const text = decode(bytes);
  // A copy: undici's Buffer is a view of its socket buffer, which it reuses.
  slot.bytes = Buffer.from(bytes);
  slot.text = text;
  return text;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

const nameOf = (b: Buffer): string => undiciUtil.headerNameToString(b);
const latin1 = (b: Buffer): string => b.toString('latin1');
