// The texts made at parse time (rpc-params-text.ts, jsonrpc.ts CallForward) against the texts the
// parsed tree gives through stringifyJson: keys and forwarded bodies must be the same bytes.
import t from 'tap';
import { evmJsonRpc as evm } from '../../src/dialects/evm-jsonrpc.js';
import { parseJson, stringifyJson, type JsonValue } from '../../src/dialects/json-text.js';
import { lastStringCut } from '../../src/dialects/rpc-params-text.js';
import type { Call } from '../../src/dialects/types.js';

const limits = { maxJsonDepth: 32, maxBatchLength: 100 };

function parseOne(method: string, params: string): Call {
  const body = Buffer.from(`[{"jsonrpc":"2.0","id":1,"method":"${method}","params":${params}}]`);
  const parsed = evm.parse({ method: 'POST', path: '/', query: '', headers: {}, body }, limits);
  if (parsed.kind !== 'jsonrpc' || parsed.calls[0] === undefined) throw new Error('expected a call');
  return parsed.calls[0];
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
const space = (): string => (Math.random() < 0.15 ? pick([' ', '\n', '\t ']) : '');
const strings = ['0xaa', '0x70a08231', 'a\\"b', 'caf\u00e9', '\\u0041', '', 'latest', '0x'.padEnd(66, 'f')];

function value(depth: number): string {
  const r = Math.random();
  if (depth > 2 || r < 0.4) return `"${pick(strings)}"`;
  if (r < 0.5) return pick(['1', '12345678901234567891', '-0', '1e3', 'true', 'null']);
  if (r < 0.8) {
    const names = ['to', 'data', 'from', 'value', 'gas', '0', 'a'].filter(() => Math.random() < 0.5);
    if (Math.random() < 0.1 && names.length > 0) names.push(names[0] as string);
    return `{${space()}${names.map((n) => `"${n}"${space()}:${space()}${value(depth + 1)}`).join(`,${space()}`)}${space()}}`;
  }
  return `[${Array.from({ length: Math.floor(Math.random() * 3) }, () => value(depth + 1)).join(',')}]`;
}

t.test('key material and pinned bodies equal the tree written with the block param replaced', async (t) => {
  let mismatches = 0;
  let fast = 0;
  for (let i = 0; i < 3000; i++) {
    const block = pick(['"latest"', '"0x10"', '"0xa"', '"safe"']);
    const extra = Math.random() < 0.2 ? `,${value(1)}` : '';
    const method = pick(['eth_call', 'eth_getBalance']);
    const params = `[${space()}${value(0)},${space()}${block}${extra}${space()}]`;
    const c = parseOne(method, params);
    const tree = parseJson(params, 32) as JsonValue[];
    if (lastStringCut(stringifyJson(tree), tree, 1) !== undefined && extra === '' && !/\s/.test(params)) fast++;
    const replaced = (v: JsonValue): JsonValue[] => {
      const out = tree.slice();
      out[1] = v;
      return out;
    };
    const placeholder = block === '"latest"' || block === '"0x10"' || block === '"0xa"';
    const wantKey = `${method}\n${stringifyJson(placeholder ? replaced('#block') : tree, { sortKeys: true })}`;
    if (c.keyMaterial !== wantKey) mismatches++;
    const wantPlain = `{"jsonrpc":"2.0","id":4,"method":"${method}","params":${stringifyJson(tree)}}`;
    if (c.rpc?.body(4) !== wantPlain) mismatches++;
    if (block === '"latest"') {
      const wantPinned = `{"jsonrpc":"2.0","id":5,"method":"${method}","params":${stringifyJson(replaced('0x1f'))}}`;
      if (c.rpc?.body(5, 31n) !== wantPinned) mismatches++;
    }
    if (mismatches > 0) {
      t.fail(`mismatch for ${params}`);
      break;
    }
  }
  t.equal(mismatches, 0, 'every text is the tree written');
  t.ok(fast > 300, `the shortcut was taken often enough to be tested (${fast})`);
});

t.test('lastStringCut: only a kept text ending with the string param', async (t) => {
  t.equal(lastStringCut('[{"a":1},"latest"]', [{}, 'latest'], 1), '[{"a":1},');
  t.equal(lastStringCut('["latest"]', ['latest'], 0), '[');
  t.equal(lastStringCut('[null,"latest"]', [null, 'latest'], 0), undefined, 'not the last param');
  t.equal(lastStringCut('[null,"latest"]', [null, 'other!'], 1), undefined, 'another string');
  t.equal(lastStringCut(undefined, [null, 'latest'], 1), undefined, 'no kept text');
  t.equal(lastStringCut('[null,null]', [null, null], 1), undefined, 'not a string');
});
