import t, { type Test } from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { dialectFor } from '../../src/dialects/index.js';
import type { Call, InboundRequest } from '../../src/dialects/types.js';
import { planCall } from '../../src/pipeline/plan-call.js';
import { recordFailure } from '../../src/upstream/health.js';
import { Runtime, type RouteRuntime } from '../../src/runtime/runtime.js';

const limits = { maxJsonDepth: 64, maxBatchLength: 100 };
const TX = '{"to":"0x00000000000000000000000000000000000000aa","data":"0x70a08231"}';
const VIEW_BODY = '{"function":"0x1::coin::balance","type_arguments":["0x1::aptos_coin::AptosCoin"],"arguments":["0x1"]}';

// Nodes are never contacted: the runtime is not started, heads are set by hand. planCall's `now`
// is the monotonic clock (performance.now()) the head snapshot ages by.
const YAML = `
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
upstreams:
  evm:
    dialect: evm-jsonrpc
    primary: http://127.0.0.1:9/
    finalityDepth: 64
  evmbft:
    dialect: evm-jsonrpc
    primary: http://127.0.0.1:9/
    finalityDepth: 0
  neo:
    dialect: neo-jsonrpc
    primary: http://127.0.0.1:9/
  aptos:
    dialect: aptos-rest
    primary: http://127.0.0.1:9/
routes:
  - name: evm
    match: { pathPrefix: /evm }
    upstream: evm
    cache:
      ttlMs: { immutable: 100000, head: 2000, unfinalized: 3000 }
      maxStaleness: { versions: 0, ms: 0 }
  - name: neo
    match: { pathPrefix: /neo }
    upstream: neo
    cache:
      ttlMs: { immutable: 100000, head: 2000, unfinalized: 3000 }
      maxStaleness: { versions: 0, ms: 0 }
  - name: aptos
    match: { pathPrefix: /v1 }
    upstream: aptos
    cache:
      ttlMs: { immutable: 100000, head: 2000, unfinalized: 3000 }
      maxStaleness: { versions: 0, ms: 0 }
  - name: evmoff
    match: { pathPrefix: /evmoff }
    upstream: evm
    cache: { enabled: false }
  - name: evmbft
    match: { pathPrefix: /bft }
    upstream: evmbft
    cache: { maxStaleness: { versions: 0, ms: 0 } }
  - name: evmstale
    match: { pathPrefix: /stale }
    upstream: evm
    cache: { maxStaleness: { versions: 10, ms: 3600000 } }
  - name: neoheadoff
    match: { pathPrefix: /neo0 }
    upstream: neo
    cache: { ttlMs: { head: 0 }, maxStaleness: { versions: 0, ms: 0 } }
`;

function setup(t: Test) {
  const runtime = new Runtime(parseConfigText(YAML, 'plan-call-test'));
  t.teardown(() => runtime.close());
  const route = (name: string): RouteRuntime => {
    const r = runtime.routes.find((x) => x.label === name);
    if (!r) throw new Error(`no route ${name}`);
    return r;
  };
  // A head set by hand is a head just confirmed (as a poll would), so it is fresh.
  const setHead = (group: string, head: bigint) => {
    const g = runtime.groups.get(group);
    g?.set.primary.noteHead(head, Date.now());
    g?.floor.confirm(performance.now());
  };
  return { runtime, route, setHead };
}

function rpc(dialect: 'evm-jsonrpc' | 'neo-jsonrpc', method: string, params: string, id = '1'): Call {
  const body = Buffer.from(`{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${params}}`);
  const parsed = dialectFor(dialect).parse({ method: 'POST', path: '/', query: '', headers: {}, body }, limits);
  if (parsed.kind !== 'jsonrpc' || parsed.calls[0] === undefined) throw new Error('expected one JSON-RPC call');
  return parsed.calls[0];
}
const evm = (method: string, params: string, id = '1') => rpc('evm-jsonrpc', method, params, id);

function aptos(method: string, target: string, body = ''): Call {
  const [path = '', query = ''] = target.split('?');
  const headers: InboundRequest['headers'] = body ? { 'content-type': 'application/json' } : {};
  const parsed = dialectFor('aptos-rest').parse({ method, path, query, headers, body: Buffer.from(body) }, limits);
  if (parsed.kind !== 'rest') throw new Error('expected a REST call');
  return parsed.call;
}

t.test('an immutable pinned read is keyed by v:N and gets the immutable TTL', async (t) => {
  const { route, setHead } = setup(t);
  setHead('aptos', 5_000n);
  const call = aptos('POST', '/v1/view?ledger_version=1200', VIEW_BODY);
  t.equal(call.cls, 'immutable');
  const plan = planCall(call, route('aptos'), performance.now());
  t.type(plan.key, 'string');
  t.match(plan.key, /^aptos:view:/, 'key prefix is group:call:');
  t.equal(plan.ttlClass, 'immutable');
  t.equal(plan.ttlMs, 100_000);
  t.equal(plan.store, true);
  t.equal(plan.pin, 1200n);
  t.equal(plan.forwardPin, undefined, 'already pinned by the client');
  t.equal(plan.write, false);
  t.equal(call.rest?.payload.pathAndQuery, '/v1/view?ledger_version=1200', 'sent as the client pinned it');

  // Different pins give different keys; the same pin the same key.
  const other = planCall(aptos('POST', '/v1/view?ledger_version=1201', VIEW_BODY), route('aptos'), performance.now());
  const same = planCall(aptos('POST', '/v1/view?ledger_version=1200', VIEW_BODY), route('aptos'), performance.now());
  t.not(other.key, plan.key);
  t.equal(same.key, plan.key);
});

t.test('an immutable read without a pin (by hash) is keyed without a version and is not affected by the head', async (t) => {
  const { route, setHead } = setup(t);
  const hash = `0x${'ab'.repeat(32)}`;
  const before = planCall(evm('eth_getTransactionByHash', `["${hash}"]`), route('evm'), performance.now());
  setHead('evm', 1_000n);
  const after = planCall(evm('eth_getTransactionByHash', `["${hash}"]`), route('evm'), performance.now());
  t.type(before.key, 'string', 'keyed even with no head known');
  t.equal(before.key, after.key, 'the head does not enter the key');
  t.equal(after.ttlClass, 'immutable');
  t.equal(after.pin, undefined);
});

t.test('EVM reads pinned by number: unfinalized within finalityDepth, immutable deeper', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 200n);
  const within = planCall(evm('eth_getBalance', '["0xaa","0xc8"]'), route('evm'), performance.now()); // 200 = head
  t.equal(within.ttlClass, 'unfinalized');
  t.equal(within.ttlMs, 3_000);
  t.equal(within.pin, 200n);
  t.equal(within.store, true);

  const edgeIn = planCall(evm('eth_getBalance', '["0xaa","0x89"]'), route('evm'), performance.now()); // 137 > 200-64
  t.equal(edgeIn.ttlClass, 'unfinalized', '137 is within 64 of 200');
  const edgeOut = planCall(evm('eth_getBalance', '["0xaa","0x88"]'), route('evm'), performance.now()); // 136 = 200-64
  t.equal(edgeOut.ttlClass, 'immutable', '136 is exactly finalityDepth deep');
  t.equal(edgeOut.ttlMs, 100_000);
  const deep = planCall(evm('eth_getBalance', '["0xaa","0x1"]'), route('evm'), performance.now());
  t.equal(deep.ttlClass, 'immutable');

  // An unfinalized and a finalized read of the same block share the key: only the TTL differs.
  setHead('evm', 10_000n);
  const later = planCall(evm('eth_getBalance', '["0xaa","0xc8"]'), route('evm'), performance.now());
  t.equal(later.ttlClass, 'immutable', 'block 200 is final once the head moved on');
  t.equal(later.key, within.key);

  // Pinned by hash is immutable whatever the head.
  const byHash = planCall(evm('eth_getBalance', `["0xaa",{"blockHash":"0x${'cd'.repeat(32)}"}]`), route('evm'), performance.now());
  t.equal(byHash.ttlClass, 'immutable');
});

t.test('an EVM read pinned by number with no head known is assumed unfinalized', async (t) => {
  const { route } = setup(t);
  const plan = planCall(evm('eth_getBalance', '["0xaa","0x1"]'), route('evm'), performance.now());
  t.equal(plan.ttlClass, 'unfinalized');
  t.type(plan.key, 'string', 'still keyed: the pin is its own version');
});

t.test('finalityDepth 0 makes pinned EVM reads immutable', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evmbft', 200n);
  const plan = planCall(evm('eth_getBalance', '["0xaa","0xc8"]'), route('evmbft'), performance.now());
  t.equal(plan.ttlClass, 'immutable');
});

t.test('EVM latest read: forwarded pinned to the snapshot head, keyed like the explicit pin', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 0x1234n);
  const latest = evm('eth_call', `[${TX},"latest"]`, '"client-a"');
  t.equal(latest.cls, 'head');
  t.equal(latest.rpc?.canPin, true);
  const plan = planCall(latest, route('evm'), performance.now());
  t.equal(plan.forwardPin, 0x1234n);
  t.equal(plan.pin, 0x1234n, 'the node must have the head');
  t.equal(plan.ttlClass, 'unfinalized', 'the head block is within finalityDepth');
  const explicit = planCall(evm('eth_call', `[${TX},"0x1234"]`, '99'), route('evm'), performance.now());
  t.equal(plan.key, explicit.key, 'latest@H and 0xH share one entry');
  t.equal(explicit.forwardPin, undefined);
  // What the node is asked is the pinned call.
  t.match(latest.rpc?.body(0, plan.forwardPin), /"0x1234"\]/);
  // An omitted block param is forwarded as written (the node decides), never pinned to the head.
  const omitted = planCall(evm('eth_getBalance', '["0xaa"]'), route('evm'), performance.now());
  const explicitBal = planCall(evm('eth_getBalance', '["0xaa","0x1234"]'), route('evm'), performance.now());
  t.not(omitted.key, explicitBal.key);
  t.equal(omitted.forwardPin, undefined);
});

t.test('Aptos latest read: pinned payload to the snapshot head, key equal to ?ledger_version=H', async (t) => {
  const { route, setHead } = setup(t);
  setHead('aptos', 777n);
  const plan = planCall(aptos('POST', '/v1/view', VIEW_BODY), route('aptos'), performance.now());
  const explicit = planCall(aptos('POST', '/v1/view?ledger_version=777', VIEW_BODY), route('aptos'), performance.now());
  t.equal(plan.forwardPin, 777n);
  t.equal(plan.pin, 777n);
  t.equal(plan.ttlClass, 'immutable', 'Aptos finalizes every version');
  t.equal(plan.ttlMs, 100_000);
  t.equal(plan.key, explicit.key);
  // What goes upstream for a plan with forwardPin is the dialect's payload pinned to it.
  const sent = plan.forwardPin === undefined ? undefined : plan.call.rest?.pinnedPayload?.(plan.forwardPin);
  t.equal(sent?.pathAndQuery, '/v1/view?ledger_version=777');
  t.same(sent, explicit.call.rest?.payload, 'the same request as the explicit pin goes upstream');
});

t.test('a latest read follows the snapshot, not the tracked head', async (t) => {
  const { route, setHead } = setup(t);
  const r = route('evmstale');
  setHead('evm', 1_000n);
  const now = performance.now();
  const first = planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now);
  t.equal(first.forwardPin, 1_000n);
  setHead('evm', 1_005n);
  const second = planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now + 1);
  t.equal(second.forwardPin, 1_000n, 'within 10 versions: the snapshot is kept');
  t.equal(second.key, first.key, 'and so is the key');
  setHead('evm', 1_011n);
  const third = planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now + 2);
  t.equal(third.forwardPin, 1_011n);
  t.not(third.key, first.key);
});

t.test('a head read that cannot be pinned (Neo invokefunction) is keyed h:H with the head TTL', async (t) => {
  const { route, setHead } = setup(t);
  setHead('neo', 5_000n);
  const call = rpc('neo-jsonrpc', 'invokefunction', '["0xef4073a0f2b305a38ec4050e4d3d28bc40ea63f5","symbol",[]]');
  t.equal(call.cls, 'head');
  t.equal(call.rpc?.canPin, false);
  const plan = planCall(call, route('neo'), performance.now());
  t.type(plan.key, 'string');
  t.equal(plan.forwardPin, undefined, 'nothing to pin upstream');
  t.equal(plan.pin, 5_000n, 'keyed by H: only a node at H or above may answer it');
  t.equal(plan.ttlClass, 'head');
  t.equal(plan.ttlMs, 2_000);
  t.equal(plan.store, true);
  // The head is in the key: another head, another key; the same head, the same key (whatever the id).
  const sameHead = planCall(rpc('neo-jsonrpc', 'invokefunction', '["0xef4073a0f2b305a38ec4050e4d3d28bc40ea63f5","symbol",[]]', '"x"'), route('neo'), performance.now());
  t.equal(sameHead.key, plan.key);
  setHead('neo', 5_001n);
  const nextHead = planCall(call, route('neo'), performance.now());
  t.not(nextHead.key, plan.key);
  // Aptos ledger info is a head read without a pinnable form too.
  const { route: route2, setHead: setHead2 } = setup(t);
  setHead2('aptos', 50n);
  const ledger = planCall(aptos('GET', '/v1'), route2('aptos'), performance.now());
  t.equal(ledger.ttlClass, 'head');
  t.equal(ledger.forwardPin, undefined);
  t.type(ledger.key, 'string');
});

t.test('a head read with no head known has no key (bypass)', async (t) => {
  const { route } = setup(t);
  const evmPlan = planCall(evm('eth_call', `[${TX},"latest"]`), route('evm'), performance.now());
  t.equal(evmPlan.key, undefined);
  t.equal(evmPlan.store, false);
  t.equal(evmPlan.forwardPin, undefined, 'sent as the client wrote it');
  const neoPlan = planCall(rpc('neo-jsonrpc', 'getblockcount', '[]'), route('neo'), performance.now());
  t.equal(neoPlan.key, undefined);
  const aptosPlan = planCall(aptos('POST', '/v1/view', VIEW_BODY), route('aptos'), performance.now());
  t.equal(aptosPlan.key, undefined);
  t.equal(aptosPlan.forwardPin, undefined, 'forwarded unpinned, as the client sent it');
});

t.test('a head read from an ejected node only is not keyed by that node', async (t) => {
  const { runtime, route } = setup(t);
  const primary = runtime.groups.get('evm')?.set.primary;
  primary?.noteHead(100n, Date.now());
  for (let i = 0; i < 10 && primary?.healthy; i++) if (primary) recordFailure(primary, Date.now(), 503);
  t.equal(primary?.healthy, false, 'primary out of rotation');
  const plan = planCall(evm('eth_call', `[${TX},"latest"]`), route('evm'), performance.now());
  t.equal(plan.key, undefined, 'the group head ignores ejected nodes');
});

t.test('writes and uncached reads have no key', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 100n);
  setHead('aptos', 100n);
  const send = planCall(evm('eth_sendRawTransaction', '["0xdeadbeef"]'), route('evm'), performance.now());
  t.equal(send.write, true);
  t.equal(send.key, undefined);
  t.equal(send.store, false);
  const unknown = planCall(evm('anvil_mine', '[]'), route('evm'), performance.now());
  t.equal(unknown.write, true, 'unknown methods are writes');
  t.equal(unknown.key, undefined);
  const pending = planCall(evm('eth_call', `[${TX},"pending"]`), route('evm'), performance.now());
  t.equal(pending.write, false);
  t.equal(pending.key, undefined, 'pending is uncached');
  const logs = planCall(evm('eth_getLogs', '[{}]'), route('evm'), performance.now());
  t.equal(logs.key, undefined);
  const other = planCall(aptos('GET', '/v1/something/unknown'), route('aptos'), performance.now());
  t.equal(other.key, undefined);
});

t.test('a rejected call (invalid batch element) has no key', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 100n);
  const parsed = dialectFor('evm-jsonrpc').parse(
    { method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from('[{"jsonrpc":"1.0","id":1,"method":"eth_getBalance","params":["0xaa","0x1"]}]') },
    limits,
  );
  if (parsed.kind !== 'jsonrpc' || !parsed.calls[0]) throw new Error('expected a batch');
  t.ok(parsed.calls[0].reject, 'the dialect rejects the element');
  const plan = planCall(parsed.calls[0], route('evm'), performance.now());
  t.equal(plan.key, undefined);
  t.equal(plan.store, false);
});

t.test('strong: head reads bypass the cache, immutable reads do not', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 100n);
  const head = planCall(evm('eth_call', `[${TX},"latest"]`), route('evm'), performance.now(), { strong: true });
  t.equal(head.key, undefined);
  t.equal(head.forwardPin, undefined, 'forwarded as the client wrote it');
  t.equal(head.store, false);
  const pinned = planCall(evm('eth_getBalance', '["0xaa","0x1"]'), route('evm'), performance.now(), { strong: true });
  t.type(pinned.key, 'string');
  t.equal(pinned.store, true);
  t.equal(pinned.pin, 1n);
});

t.test('cache disabled: calls are still keyed (coalesced) but never stored', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 100n);
  const pinned = planCall(evm('eth_getBalance', '["0xaa","0x1"]'), route('evmoff'), performance.now());
  t.type(pinned.key, 'string');
  t.equal(pinned.store, false);
  const latest = planCall(evm('eth_getBalance', '["0xaa","latest"]'), route('evmoff'), performance.now());
  t.type(latest.key, 'string');
  t.equal(latest.store, false);
});

t.test('a zero TTL means keyed but not stored', async (t) => {
  const { route, setHead } = setup(t);
  setHead('neo', 10n);
  const plan = planCall(rpc('neo-jsonrpc', 'getblockcount', '[]'), route('neoheadoff'), performance.now());
  t.type(plan.key, 'string');
  t.equal(plan.ttlMs, 0);
  t.equal(plan.store, false);
});

t.test('coalesce-only calls (Aptos wait_by_hash) are keyed but never stored', async (t) => {
  const { route } = setup(t);
  const plan = planCall(aptos('GET', `/v1/transactions/wait_by_hash/0x${'ab'.repeat(32)}`), route('aptos'), performance.now());
  t.type(plan.key, 'string');
  t.equal(plan.store, false);
});

t.test('keys differ between groups and between calls', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 100n);
  setHead('evmbft', 100n);
  const a = planCall(evm('eth_getBalance', '["0xaa","0x1"]'), route('evm'), performance.now());
  const b = planCall(evm('eth_getBalance', '["0xaa","0x1"]'), route('evmbft'), performance.now());
  const c = planCall(evm('eth_getCode', '["0xaa","0x1"]'), route('evm'), performance.now());
  const d = planCall(evm('eth_getBalance', '["0xbb","0x1"]'), route('evm'), performance.now());
  t.not(a.key, b.key, 'group is part of the key');
  t.not(a.key, c.key);
  t.not(a.key, d.key);
  const idA = planCall(evm('eth_getBalance', '["0xaa","0x1"]', '1'), route('evm'), performance.now());
  const idB = planCall(evm('eth_getBalance', '["0xaa","0x1"]', '"other"'), route('evm'), performance.now());
  t.equal(idA.key, idB.key, 'the JSON-RPC id is not part of the key');
});

t.test('latest reads say which version they answer for; pinned reads do not need to', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 300n);
  setHead('neo', 40n);
  t.equal(planCall(evm('eth_call', `[${TX},"latest"]`), route('evm'), performance.now()).answersFor, 300n);
  t.equal(planCall(rpc('neo-jsonrpc', 'getblockcount', '[]'), route('neo'), performance.now()).answersFor, 40n);
  t.equal(planCall(evm('eth_call', `[${TX},"0x10"]`), route('evm'), performance.now()).answersFor, undefined);
});

t.test('fallback keys: a pinned read falls back to itself, a latest read to the previous snapshot', async (t) => {
  const { route, setHead } = setup(t);
  setHead('evm', 100n);
  const pinned = planCall(evm('eth_getBalance', '["0xaa","0x5"]'), route('evm'), performance.now());
  t.equal(pinned.fallbackKey, pinned.key);
  const first = planCall(evm('eth_getBalance', '["0xaa","latest"]'), route('evm'), performance.now());
  t.equal(first.fallbackKey, undefined, 'no previous snapshot yet');
  setHead('evm', 101n);
  const second = planCall(evm('eth_getBalance', '["0xaa","latest"]'), route('evm'), performance.now());
  t.not(second.key, first.key);
  t.equal(second.fallbackKey, first.key, 'the answer at the previous head');
  // Neo: keyed h:H, the fallback is h:(previous H).
  setHead('neo', 7n);
  const n1 = planCall(rpc('neo-jsonrpc', 'getblockcount', '[]'), route('neo'), performance.now());
  setHead('neo', 8n);
  const n2 = planCall(rpc('neo-jsonrpc', 'getblockcount', '[]'), route('neo'), performance.now());
  t.equal(n2.fallbackKey, n1.key);
});

t.test('a minimum version lifts a stale snapshot (monotonic reads)', async (t) => {
  const { route, setHead } = setup(t);
  const r = route('evmstale');
  const now = performance.now();
  setHead('evm', 1_000n);
  t.equal(planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now).forwardPin, 1_000n);
  setHead('evm', 1_005n);
  t.equal(planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now + 1).forwardPin, 1_000n, 'the snapshot is kept');
  const lifted = planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now + 2, { minVersion: 1_003n });
  t.equal(lifted.forwardPin, 1_005n, 'the tracked head satisfies the minimum');
  const ahead = planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now + 3, { minVersion: 2_000n });
  t.equal(ahead.forwardPin, 2_000n, 'a pinnable read is pinned to the minimum itself');
  t.equal(ahead.pin, 2_000n, 'and only sent to a node that has it');
  const met = planCall(evm('eth_getBalance', '["0xaa","latest"]'), r, now + 4, { minVersion: 900n });
  t.equal(met.forwardPin, 1_000n, 'a minimum the snapshot already meets changes nothing');
});

t.test('a minimum version the proxy has not seen makes an unpinnable read go uncached to the primary', async (t) => {
  const { route, setHead } = setup(t);
  setHead('neo', 50n);
  const plan = planCall(rpc('neo-jsonrpc', 'getblockcount', '[]'), route('neo'), performance.now(), { minVersion: 60n });
  t.equal(plan.key, undefined);
  t.equal(plan.store, false);
  t.equal(plan.strong, true);
});

t.test('the calls of one request share their latest head; a floor raised in between is never missed', async (t) => {
  const { runtime, route, setHead } = setup(t);
  setHead('evm', 1_000n);
  const now = performance.now();
  const first = planCall(evm('eth_getBalance', '["0x00000000000000000000000000000000000000aa","latest"]'), route('evm'), now);
  const second = planCall(evm('eth_getBalance', '["0x00000000000000000000000000000000000000bb","latest"]'), route('evm'), now);
  t.equal(first.forwardPin, 1_000n);
  t.equal(second.forwardPin, 1_000n, 'the same clock reading: the same head');
  // A write was answered for a later block (read-your-writes): the next plan follows the floor
  // even at the same clock reading.
  runtime.groups.get('evm')?.floor.raise(1_005n);
  const after = planCall(evm('eth_getBalance', '["0x00000000000000000000000000000000000000cc","latest"]'), route('evm'), now);
  t.equal(after.forwardPin, 1_005n, 'the raised floor is the head');
});
