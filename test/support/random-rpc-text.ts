// Random JSON-RPC request texts for differential checks of the request parser: mostly well-formed,
// often compact (the texts the parser copies instead of serialising), with the things that make a
// text differ from what serialising writes: whitespace, escapes, repeated and integer-like member
// names, members out of order, and now and then a defect.
import type { Rng } from './fuzz-rng.js';

const STRINGS = ['0xaa', '0x70a08231', 'latest', 'pending', 'safe', '0x10', '0x0', '0x01', 'earliest', '', 'caf\u00e9', '\u2603\ud83d\ude00', '0x'.padEnd(66, 'c'), '#block', 'a b'];
const ESCAPED = ['a\\"b', '\\u0041', '\\n', '\\/', '\\ud83d\\ude00', '\\\\'];
const NUMBERS = ['1', '0', '-0', '12345678901234567891', '1e3', '1.50', '-2E-7', '7'];
const NAMES = ['to', 'data', 'from', 'value', 'gas', 'a', 'B', '_', 'aa', '\u00e9', '\ud83d\ude00', 'blockHash', 'blockNumber', 'requireCanonical', '__proto__', 'z'];
const ODD_NAMES = ['0', '10', '9', '\\u0061'];
const METHODS = ['eth_call', 'eth_getBalance', 'eth_getStorageAt', 'eth_getBlockByNumber', 'eth_blockNumber', 'eth_getTransactionByHash', 'eth_sendRawTransaction', 'eth_getLogs', 'getblock', 'invokefunction', 'getversion', 'x'];
const BLOCKS = ['"latest"', '"0x10"', '"0xa"', '"0x01"', '"safe"', '"earliest"', '"pending"', `"0x${'ab'.repeat(32)}"`, `{"blockHash":"0x${'cd'.repeat(32)}"}`, '{"blockNumber":"0x5"}', `{"requireCanonical":true,"blockHash":"0x${'ef'.repeat(32)}"}`, 'null', '7'];

export class RandomRpcText {
  constructor(private readonly rng: Rng) {}

  /** Whitespace, now and then. */
  space(): string {
    return this.rng.chance(0.04) ? this.rng.pick([' ', '\n', '\t', '\r\n ']) : '';
  }

  string(): string {
    return `"${this.rng.chance(0.05) ? this.rng.pick(ESCAPED) : this.rng.pick(STRINGS)}"`;
  }

  value(depth: number): string {
    const r = this.rng.next();
    if (depth > 3 || r < 0.35) return this.string();
    if (r < 0.5) return this.rng.pick([...NUMBERS, 'true', 'false', 'null']);
    if (r < 0.8) return this.object(depth);
    return this.array(depth);
  }

  object(depth: number): string {
    const names: string[] = [];
    const n = this.rng.int(this.rng.chance(0.05) ? 12 : 4);
    for (let i = 0; i < n; i++) names.push(this.rng.chance(0.03) ? this.rng.pick(ODD_NAMES) : this.rng.pick(NAMES));
    if (this.rng.chance(0.5)) names.sort();
    const s = this.space;
    const members = names.map((k) => `${s.call(this)}"${k}"${s.call(this)}:${s.call(this)}${this.value(depth + 1)}${s.call(this)}`);
    return `{${members.join(',')}${members.length === 0 ? this.space() : ''}}`;
  }

  array(depth: number): string {
    const n = this.rng.int(4);
    const items = Array.from({ length: n }, () => `${this.space()}${this.value(depth + 1)}${this.space()}`);
    return `[${items.join(',')}${n === 0 ? this.space() : ''}]`;
  }

  /** Params: mostly a list ending in a block param, else any value (or a non-container). */
  params(): string {
    const r = this.rng.next();
    if (r < 0.6) {
      const head = Array.from({ length: this.rng.int(3) }, () => this.value(1));
      head.push(this.rng.pick(BLOCKS));
      if (this.rng.chance(0.1)) head.push(this.value(1));
      return `[${head.map((x) => `${this.space()}${x}${this.space()}`).join(',')}]`;
    }
    if (r < 0.95) return this.value(0);
    return this.rng.pick(['null', '1', '"x"', '[]', '{}']);
  }

  /** One element of a request: an envelope with its members in any order, some missing or repeated. */
  element(): string {
    const members: string[] = [];
    const idText = this.rng.pick(['1', '"a"', 'null', '12345678901234567891', '-0', '1.5', 'true', '{}', `"${'\\u0031'}"`]);
    if (!this.rng.chance(0.05)) members.push(`"jsonrpc":${this.rng.chance(0.97) ? '"2.0"' : '"1.0"'}`);
    if (!this.rng.chance(0.1)) members.push(`"id":${idText}`);
    if (!this.rng.chance(0.03)) members.push(`"method":${this.rng.chance(0.97) ? `"${this.rng.pick(METHODS)}"` : '1'}`);
    if (!this.rng.chance(0.05)) members.push(`"params":${this.params()}`);
    if (this.rng.chance(0.05)) members.push(`"params":${this.params()}`);
    if (this.rng.chance(0.05)) members.push(`"x":${this.value(1)}`);
    for (let i = members.length - 1; i > 0; i--) {
      if (!this.rng.chance(0.2)) continue;
      const j = this.rng.int(i + 1);
      [members[i], members[j]] = [members[j] as string, members[i] as string];
    }
    const s = this.space();
    return `{${s}${members.join(`,${this.space()}`)}${this.space()}}`;
  }

  /** A request body: a batch (mostly) or one element, now and then with a defect. */
  document(): string {
    let text = this.rng.chance(0.8) ? `[${Array.from({ length: 1 + this.rng.int(6) }, () => (this.rng.chance(0.03) ? this.value(1) : this.element())).join(',')}]` : this.element();
    if (this.rng.chance(0.03)) {
      const at = this.rng.int(text.length);
      text = this.rng.chance(0.5) ? text.slice(0, at) : text.slice(0, at) + this.rng.pick([',', '}', ']', '"', 'x', ' ', '\\']) + text.slice(at);
    }
    return text;
  }
}
