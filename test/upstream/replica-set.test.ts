// Node selection only: the nodes are never contacted (their pools connect lazily).
import t, { type Test } from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { dialectFor } from '../../src/dialects/index.js';
import { recordFailure } from '../../src/upstream/health.js';
import type { UpstreamNode } from '../../src/upstream/node.js';
import { ReplicaSet } from '../../src/upstream/replica-set.js';

/** Takes a node out of rotation the way traffic does: failures until its breaker opens. */
function eject(node: UpstreamNode): void {
  for (let i = 0; i < 10 && node.healthy; i++) recordFailure(node, Date.now(), 503);
  if (node.healthy) throw new Error(`could not eject ${node.name}`);
}

interface SetOptions {
  balance?: string;
  dialect?: 'aptos-rest' | 'evm-jsonrpc';
  lag?: string;
}

function makeSet(t: Test, replicas: number, opts: SetOptions = {}): ReplicaSet {
  const dialect = opts.dialect ?? 'aptos-rest';
  const urls = Array.from({ length: replicas }, (_, i) => `http://127.0.0.1:${10_001 + i}`);
  const yaml = `
upstreams:
  g:
    dialect: ${dialect}
    primary: http://127.0.0.1:10000
    replicas: [${urls.join(', ')}]
    balance: ${opts.balance ?? 'round-robin'}
    health: { ejectAfterFailures: 1, openMs: 600000 }
${opts.lag ? `    lag: ${opts.lag}\n` : ''}routes:
  - match: { pathPrefix: / }
    upstream: g
`;
  const config = parseConfigText(yaml, 'replica-set-test');
  const cfg = config.upstreams['g'];
  if (!cfg) throw new Error('no group');
  const set = new ReplicaSet('g', cfg, dialectFor(dialect));
  t.teardown(() => set.close());
  return set;
}

function tally(set: ReplicaSet, n: number, pick: () => UpstreamNode | undefined): Map<string, number> {
  const counts = new Map<string, number>(set.all.map((node) => [node.name, 0]));
  for (let i = 0; i < n; i++) {
    const node = pick();
    const name = node?.name ?? 'none';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

const read = { write: false } as const;

t.test('nodes are named by role, never by URL', async (t) => {
  const set = makeSet(t, 2);
  t.same(set.all.map((n) => [n.name, n.role]), [['primary', 'primary'], ['replica-0', 'replica'], ['replica-1', 'replica']]);
  t.equal(set.primary, set.all[0]);
});

t.test('round-robin spreads reads evenly over the replicas, never the primary', async (t) => {
  const set = makeSet(t, 3);
  const counts = tally(set, 300, () => set.select(read));
  t.same(Object.fromEntries(counts), { primary: 0, 'replica-0': 100, 'replica-1': 100, 'replica-2': 100 });
  // Consecutive picks take turns.
  const seq = [set.select(read), set.select(read), set.select(read)].map((n) => n?.name);
  t.equal(new Set(seq).size, 3, `three different replicas in a row: ${seq.join(',')}`);
});

t.test('round-robin skips an ejected replica', async (t) => {
  const set = makeSet(t, 3);
  eject(set.replicas[1] as UpstreamNode);
  const counts = tally(set, 100, () => set.select(read));
  t.equal(counts.get('replica-1'), 0);
  t.equal(counts.get('primary'), 0);
  t.equal(counts.get('replica-0'), 50);
  t.equal(counts.get('replica-2'), 50);
});

t.test('least-connections picks the replica with the fewest requests in flight', async (t) => {
  const set = makeSet(t, 3, { balance: 'least-connections' });
  const [r0, r1, r2] = set.replicas as [UpstreamNode, UpstreamNode, UpstreamNode];
  r0.inflight = 5;
  r1.inflight = 2;
  r2.inflight = 7;
  t.equal(set.select(read), r1);
  r1.inflight = 9;
  t.equal(set.select(read), r0);
  r0.inflight = 0;
  r1.inflight = 0;
  r2.inflight = 0;
  t.equal(set.select(read), r0, 'ties go to the first');
  set.primary.inflight = 0;
  r0.inflight = 100;
  r1.inflight = 100;
  r2.inflight = 100;
  t.not(set.select(read), set.primary, 'the primary is not a read candidate while replicas are usable');
  eject(r1);
  r1.inflight = 0;
  t.not(set.select(read), r1, 'an ejected replica is not picked even when idle');
});

t.test('random picks only among the candidates, and each of them', async (t) => {
  const set = makeSet(t, 3, { balance: 'random' });
  const counts = tally(set, 600, () => set.select(read));
  t.equal(counts.get('primary'), 0);
  for (const r of ['replica-0', 'replica-1', 'replica-2']) t.ok((counts.get(r) ?? 0) > 0, `${r} picked`);
  // With a pin only one replica qualifies.
  const [r0, r1, r2] = set.replicas as [UpstreamNode, UpstreamNode, UpstreamNode];
  r0.noteHead(50n, Date.now());
  r1.noteHead(200n, Date.now());
  r2.noteHead(60n, Date.now());
  const pinned = tally(set, 100, () => set.select({ write: false, pin: 100n }));
  t.equal(pinned.get('replica-1'), 100, 'every pick is the replica that has the version');
});

t.test('writes go to the primary, even when it is ejected', async (t) => {
  const set = makeSet(t, 2);
  t.equal(set.select({ write: true }), set.primary);
  eject(set.primary);
  t.equal(set.primary.healthy, false);
  t.equal(set.select({ write: true }), set.primary, 'never to a replica');
  t.equal(set.select({ write: true, strong: false, pin: 5n }), set.primary);
  t.equal(set.select({ write: true, exclude: new Set([set.primary]) }), undefined, 'never retried elsewhere');
});

t.test('strong reads go to the primary', async (t) => {
  const set = makeSet(t, 2);
  for (let i = 0; i < 5; i++) t.equal(set.select({ write: false, strong: true }), set.primary);
});

t.test('a group without replicas reads from the primary', async (t) => {
  const set = makeSet(t, 0);
  t.equal(set.select(read), set.primary);
  t.equal(set.select({ write: false, pin: 10n }), set.primary);
});

t.test('a pin filters out replicas without that version', async (t) => {
  const set = makeSet(t, 3);
  const [r0, r1, r2] = set.replicas as [UpstreamNode, UpstreamNode, UpstreamNode];
  r0.noteHead(100n, Date.now());
  r1.noteHead(90n, Date.now());
  // r2 head unknown: assumed to have it.
  const counts = tally(set, 40, () => set.select({ write: false, pin: 95n }));
  t.equal(counts.get('replica-1'), 0, 'the lagging replica is skipped');
  t.equal(counts.get('replica-0'), 20);
  t.equal(counts.get('replica-2'), 20);
  t.equal(counts.get('primary'), 0);
  r2.noteHead(91n, Date.now());
  t.equal(set.select({ write: false, pin: 100n }), r0, 'exactly at the head is fine');
  t.equal(set.select({ write: false, pin: 101n }), set.primary, 'no replica has it: the primary answers');
});

t.test('an Aptos replica that pruned the pinned version is skipped', async (t) => {
  const set = makeSet(t, 2);
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  r0.noteHead(1_000n, Date.now());
  r1.noteHead(1_000n, Date.now());
  r0.oldest = 500n;
  const counts = tally(set, 10, () => set.select({ write: false, pin: 400n }));
  t.equal(counts.get('replica-0'), 0, 'oldest 500 > pin 400');
  t.equal(counts.get('replica-1'), 10);
  t.equal(set.select({ write: false, pin: 500n, exclude: new Set([r1]) }), r0, 'oldest == pin is still there');
});

t.test('every node ejected: one is still tried', async (t) => {
  const set = makeSet(t, 2);
  for (const n of set.all) eject(n);
  const first = set.select(read);
  t.ok(first, 'a node is returned rather than none');
  t.equal(first, set.primary);
  const second = set.select({ write: false, exclude: new Set([set.primary]) });
  t.equal(second, set.replicas[0], 'the next untried one');
  t.equal(set.select({ write: false, exclude: new Set(set.all) }), undefined, 'none left');
});

t.test('the exclude set moves a retry to another node, then to the primary', async (t) => {
  const set = makeSet(t, 2);
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  const tried = new Set<UpstreamNode>();
  const a = set.select({ write: false, exclude: tried }) as UpstreamNode;
  tried.add(a);
  const b = set.select({ write: false, exclude: tried }) as UpstreamNode;
  tried.add(b);
  t.same(new Set([a, b]), new Set([r0, r1]), 'both replicas before the primary');
  t.equal(set.select({ write: false, exclude: tried }), set.primary);
  tried.add(set.primary);
  t.equal(set.select({ write: false, exclude: tried }), undefined);
  t.equal(
    set.select({ write: false, strong: true, exclude: new Set([set.primary]) }),
    undefined,
    'a strong read whose primary was tried has nowhere else to go (a replica may lag behind)',
  );
});

t.test('the group head is the highest head of a healthy node', async (t) => {
  const set = makeSet(t, 2);
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  t.equal(set.head, undefined);
  r0.noteHead(10n, Date.now());
  r1.noteHead(30n, Date.now());
  set.primary.noteHead(20n, Date.now());
  t.equal(set.head, 30n);
  eject(r1);
  t.equal(set.head, 20n, 'an ejected node does not count');
  r1.noteHead(5n, Date.now());
  t.equal(r1.head, 30n, 'a node head never goes back');
});

t.test('an open breaker keeps a replica out until openMs passed, then it gets one trial', async (t) => {
  const set = makeSet(t, 2);
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  eject(r0);
  t.equal(r0.breaker.state(Date.now()), 'open');
  const counts = tally(set, 10, () => set.select(read));
  t.equal(counts.get('replica-0'), 0);
  t.equal(counts.get('replica-1'), 10);
  // Half-open (simulated by asking at a later time): one trial at a time.
  const later = Date.now() + 600_001;
  t.equal(r0.breaker.state(later), 'half-open');
  t.ok(r0.breaker.tryAcquire(later), 'the trial slot');
  t.equal(r0.breaker.isAvailable(later), false, 'no second trial while the first runs');
  t.equal(r1.healthy, true);
});

t.test('a replica lagging more than maxLag behind the group head is skipped', async (t) => {
  const set = makeSet(t, 2, { dialect: 'evm-jsonrpc', lag: '{ maxLag: 5 }' });
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  r0.noteHead(100n, Date.now());
  r1.noteHead(94n, Date.now());
  t.equal(set.isCurrent(r1), false, '6 blocks behind');
  const counts = tally(set, 10, () => set.select(read));
  t.equal(counts.get('replica-1'), 0);
  t.equal(counts.get('replica-0'), 10);
  r1.noteHead(95n, Date.now());
  t.equal(set.isCurrent(r1), true, '5 blocks behind is allowed');
  const again = tally(set, 10, () => set.select(read));
  t.equal(again.get('replica-1'), 5);
});

t.test('the default maxLag of an EVM group is a few blocks', async (t) => {
  const set = makeSet(t, 2, { dialect: 'evm-jsonrpc' });
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  r0.noteHead(1_000n, Date.now());
  r1.noteHead(900n, Date.now());
  t.equal(set.isCurrent(r1), false, '100 blocks behind is out');
  t.equal(set.isCurrent(r0), true);
});

t.test('a replica whose head is stuck behind the group for maxHeadAgeMs is skipped', async (t) => {
  const set = makeSet(t, 2, { dialect: 'evm-jsonrpc', lag: '{ maxLag: 100, maxHeadAgeMs: 1000 }' });
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  r0.noteHead(100n, Date.now());
  r1.noteHead(99n, Date.now() - 5_000); // last moved 5 s ago
  t.equal(set.isCurrent(r1), false, 'behind and not moving');
  r1.noteHead(100n, Date.now() - 5_000);
  t.equal(set.isCurrent(r1), true, 'at the group head a quiet node is not stuck');
});

t.test('latency balancing prefers the faster replica', async (t) => {
  const set = makeSet(t, 2, { balance: 'latency' });
  const [r0, r1] = set.replicas as [UpstreamNode, UpstreamNode];
  r0.noteLatency(200);
  r1.noteLatency(5);
  const counts = tally(set, 400, () => set.select(read));
  t.equal(counts.get('primary'), 0);
  t.ok((counts.get('replica-1') ?? 0) > (counts.get('replica-0') ?? 0), `fast ${counts.get('replica-1')} vs slow ${counts.get('replica-0')}`);
});
