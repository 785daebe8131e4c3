import t from 'tap';
import { identityEntry } from '../../src/cache/policy.js';
import type { Call } from '../../src/dialects/types.js';
import { observeAnswers } from '../../src/pipeline/observe-answers.js';
import type { GroupRuntime } from '../../src/runtime/runtime.js';
import type { CallResult } from '../../src/runtime/types.js';

/** A group whose dialect counts what it is asked; the node's head is named by x-head. */
function fakeGroup() {
  const seen = { nodeFacts: 0, observe: 0, confirms: 0, raised: [] as bigint[] };
  const group = {
    dialect: {
      observe: () => { seen.observe++; return undefined; },
      nodeFacts: (h: Record<string, string>) => { seen.nodeFacts++; return { head: h['x-head'] === undefined ? undefined : BigInt(h['x-head']) }; },
    },
    floor: { confirm: () => { seen.confirms++; }, raise: (v: bigint) => { seen.raised.push(v); return true; } },
    set: { all: [] },
    heads: { afterWrite: () => undefined },
  } as unknown as GroupRuntime;
  return { group, seen };
}

const call: Call = { cls: 'immutable', name: 'view', keyMaterial: 'k' };

t.test("a herd's followers share one entry: its headers are read once, every answer still confirms the head", async (t) => {
  const { group, seen } = fakeGroup();
  const entry = identityEntry(200, [['x-head', '41']], Buffer.from('"x"'), Date.now());
  const answer = { entry, node: 'n1' };
  const leader: CallResult = { cache: 'miss', answer };
  observeAnswers(group, [call], [leader], 0);
  t.equal(seen.confirms, 1, 'the fresh answer confirms the head');
  const followers: CallResult[] = Array.from({ length: 100 }, () => ({ cache: 'coalesced', answer }));
  for (const f of followers) observeAnswers(group, [call], [f], 0);
  t.equal(seen.confirms, 101, 'every coalesced answer confirms, as before');
  t.equal(seen.nodeFacts, 2, 'the leader reads the headers, then the first follower, and it is kept');
  t.equal(seen.observe, 2, 'what the entry shows is kept too');
});

t.test('a fetched entry is not marked; an entry that names no head never confirms', async (t) => {
  const { group, seen } = fakeGroup();
  const plain = identityEntry(200, [['content-type', 'application/json']], Buffer.from('1'), Date.now());
  for (let i = 0; i < 3; i++) observeAnswers(group, [call], [{ cache: 'miss', answer: { entry: plain, node: 'n1' } }], 0);
  t.equal(seen.nodeFacts, 3, 'fetched: asked each time, nothing kept on the entry');
  t.same(Object.getOwnPropertySymbols(plain), [], 'no mark added to a fetched entry');
  for (let i = 0; i < 3; i++) observeAnswers(group, [call], [{ cache: 'coalesced', answer: { entry: plain, node: 'n1' } }], 0);
  t.equal(seen.nodeFacts, 4, 'shared: asked once more, then kept');
  t.equal(seen.confirms, 0, 'headers without the head confirm nothing');
});
