// What a load driver sends, described once and generated twice: as JavaScript (autocannon) and as
// a wrk Lua script. Dynamic workloads make every request (or part of it) distinct; `tag` (digits
// only) keeps the requests of one run apart from every other run's.

export type Workload =
  | { kind: 'fixed'; method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string }
  /** POST /v1/view with a distinct argument per request (a guaranteed cache miss). */
  | { kind: 'view-distinct'; path: string; tag: string }
  /**
   * A JSON-RPC batch of `size` eth_call/eth_getBalance calls at "latest": every `uniqueEvery`-th
   * call is new (never seen before), the others are drawn at random from `hot` fixed calls.
   */
  | { kind: 'rpc-batch'; path: string; size: number; uniqueEvery: number; hot: number; tag: string }
  /** GET /v1/accounts/{random of `keys` addresses}/resources?ledger_version=N. */
  | { kind: 'resources-random'; ledgerVersion: number; keys: number };

export interface GeneratedRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export const JSON_HEADERS: Record<string, string> = { 'content-type': 'application/json' };
export const VIEW_FUNCTION = '0x1::coin::balance';
export const COIN_TYPE = '0x1::aptos_coin::AptosCoin';
export const CONTRACT = `0x${'c0ffee'.padStart(40, '0')}`;
/** ERC-20 balanceOf(address) selector plus the 12 zero bytes of the padded address. */
const BALANCE_OF = '0x70a08231000000000000000000000000';

export function viewBody(argument: string): string {
  return `{"function":"${VIEW_FUNCTION}","type_arguments":["${COIN_TYPE}"],"arguments":["${argument}"]}`;
}

function addr40(hexDigits: string): string {
  return `0x${hexDigits.padStart(40, '0').slice(-40)}`;
}

function rpcCallText(id: number, k: string, n: number): string {
  const a = addr40(k);
  return n % 2 === 0
    ? `{"jsonrpc":"2.0","id":${id},"method":"eth_call","params":[{"to":"${CONTRACT}","data":"${BALANCE_OF}${a.slice(2)}"},"latest"]}`
    : `{"jsonrpc":"2.0","id":${id},"method":"eth_getBalance","params":["${a}","latest"]}`;
}

/** A request generator for one driver process (tid keeps the drivers of one run apart). */
export function jsGenerator(w: Workload, tid = 0): () => GeneratedRequest {
  let counter = 0;
  const unique = (tag: string) => `${tag}${String(tid).padStart(2, '0')}${String(++counter).padStart(10, '0')}`;
  switch (w.kind) {
    case 'fixed': {
      const req: GeneratedRequest = { method: w.method, path: w.path, headers: w.headers };
      if (w.body !== undefined) req.body = w.body;
      return () => req;
    }
    case 'view-distinct':
      return () => ({ method: 'POST', path: w.path, headers: JSON_HEADERS, body: viewBody(`0x${unique(w.tag)}`) });
    case 'rpc-batch':
      return () => {
        const parts: string[] = [];
        for (let i = 0; i < w.size; i++) {
          if (i % w.uniqueEvery === w.uniqueEvery - 1) {
            const u = unique(w.tag);
            parts.push(rpcCallText(i + 1, u, counter));
          } else {
            const k = Math.floor(Math.random() * w.hot);
            parts.push(rpcCallText(i + 1, `face${k}`, k));
          }
        }
        return { method: 'POST', path: w.path, headers: JSON_HEADERS, body: `[${parts.join(',')}]` };
      };
    case 'resources-random':
      return () => {
        const k = Math.floor(Math.random() * w.keys);
        return { method: 'GET', path: `/v1/accounts/0x${k.toString(16).padStart(64, '0')}/resources?ledger_version=${w.ledgerVersion}`, headers: {} };
      };
  }
}

const luaString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** A wrk script: the workload, plus a done() that prints one `WRKJSON {...}` line. */
export function wrkScript(w: Workload): string {
  const out: string[] = [
    'local counter = 0',
    'local nthreads = 0',
    'function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end',
    'function init(args) math.randomseed(os.time() + (tid or 0) * 7919); for i = 1, 10 do math.random() end end',
    'local function unique(tag) counter = counter + 1; return string.format("%s%02d%010d", tag, tid or 0, counter) end',
  ];
  switch (w.kind) {
    case 'fixed':
      out.push(`wrk.method = ${luaString(w.method)}`);
      for (const [n, v] of Object.entries(w.headers)) out.push(`wrk.headers[${luaString(n)}] = ${luaString(v)}`);
      if (w.body !== undefined) out.push(`wrk.body = ${luaString(w.body)}`);
      break;
    case 'view-distinct':
      out.push(
        'wrk.method = "POST"',
        'wrk.headers["content-type"] = "application/json"',
        `local PRE = ${luaString(`{"function":"${VIEW_FUNCTION}","type_arguments":["${COIN_TYPE}"],"arguments":["0x`)}`,
        `function request() return wrk.format("POST", ${luaString(w.path)}, nil, PRE .. unique(${luaString(w.tag)}) .. "\\"]}") end`,
      );
      break;
    case 'rpc-batch':
      out.push(
        'wrk.method = "POST"',
        'wrk.headers["content-type"] = "application/json"',
        `local CONTRACT = ${luaString(CONTRACT)}`,
        `local BALANCE_OF = ${luaString(BALANCE_OF)}`,
        'local function addr40(k) local s = string.rep("0", 40 - #k) .. k; return "0x" .. string.sub(s, -40) end',
        'local function call(id, k, n)',
        '  local a = addr40(k)',
        '  if n % 2 == 0 then',
        '    return \'{"jsonrpc":"2.0","id":\' .. id .. \',"method":"eth_call","params":[{"to":"\' .. CONTRACT .. \'","data":"\' .. BALANCE_OF .. string.sub(a, 3) .. \'"},"latest"]}\'',
        '  end',
        '  return \'{"jsonrpc":"2.0","id":\' .. id .. \',"method":"eth_getBalance","params":["\' .. a .. \'","latest"]}\'',
        'end',
        'function request()',
        '  local parts = {}',
        `  for i = 0, ${w.size - 1} do`,
        `    if i % ${w.uniqueEvery} == ${w.uniqueEvery - 1} then`,
        `      parts[#parts + 1] = call(i + 1, unique(${luaString(w.tag)}), counter)`,
        '    else',
        `      local k = math.random(0, ${w.hot - 1})`,
        '      parts[#parts + 1] = call(i + 1, "face" .. k, k)',
        '    end',
        '  end',
        `  return wrk.format("POST", ${luaString(w.path)}, nil, "[" .. table.concat(parts, ",") .. "]")`,
        'end',
      );
      break;
    case 'resources-random':
      out.push(
        `function request() return wrk.format("GET", string.format("/v1/accounts/0x%064x/resources?ledger_version=%d", math.random(0, ${w.keys - 1}), ${w.ledgerVersion})) end`,
      );
      break;
  }
  out.push(
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n\',',
    '    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99), latency.mean, latency.max,',
    '    e.connect, e.read, e.write, e.status, e.timeout))',
    'end',
  );
  return `${out.join('\n')}\n`;
}

// ---- open-loop workloads (lib/open-loop.ts) ----------------------------------------------------

/**
 * The trading bot's balance checks: single JSON-RPC `eth_getBalance` calls at "latest"; a share
 * exactly `hotShare` of them go to `hotAccounts` fixed accounts (which one: random from `seed`), the
 * rest each to an account never asked for before (`tag` keeps runs apart). Every target of a run
 * gets the same sequence.
 */
export interface BalanceMix {
  kind: 'evm-balance-mix';
  path: string;
  hotAccounts: number;
  hotShare: number;
  tag: string;
  seed: number;
}

export interface BalanceCall {
  hot: boolean;
  body: string;
}

export function balanceMixGenerator(w: BalanceMix): () => BalanceCall {
  let x = w.seed >>> 0 || 0x2545f491;
  const random = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  let id = 0;
  let distinct = 0;
  return () => {
    // Exactly hotShare of the calls are hot (call i is hot when the running quota steps up), so the
    // split, and with it which class the median falls in, does not depend on the seed.
    const hot = Math.floor((id + 1) * w.hotShare) > Math.floor(id * w.hotShare);
    const account = hot ? addr40(`b0b${Math.floor(random() * w.hotAccounts)}`) : addr40(`${w.tag}${String(++distinct).padStart(10, '0')}`);
    return { hot, body: `{"jsonrpc":"2.0","id":${++id},"method":"eth_getBalance","params":["${account}","latest"]}` };
  };
}
