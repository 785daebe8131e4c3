import t from 'tap';
import { HeadSnapshot } from '../../src/runtime/head-snapshot.js';

t.test('undefined until a head is known', async (t) => {
  const s = new HeadSnapshot({ versions: 10, ms: 1000 });
  t.equal(s.resolve(undefined, 0), undefined);
  t.equal(s.resolve(undefined, 5_000), undefined);
  t.equal(s.resolve(100n, 5_000), 100n, 'the first known head is taken');
});

t.test('keeps the previous snapshot when the tracked head becomes unknown', async (t) => {
  const s = new HeadSnapshot({ versions: 0, ms: 0 });
  t.equal(s.resolve(100n, 0), 100n);
  t.equal(s.resolve(undefined, 10), 100n);
});

t.test('follows the head only when more than `versions` behind', async (t) => {
  const s = new HeadSnapshot({ versions: 10, ms: 60_000 });
  t.equal(s.resolve(100n, 0), 100n);
  t.equal(s.resolve(105n, 1), 100n, '5 behind: kept');
  t.equal(s.resolve(110n, 2), 100n, 'exactly 10 behind: kept');
  t.equal(s.resolve(111n, 3), 111n, '11 behind: follows');
  t.equal(s.resolve(115n, 4), 111n, 'the new snapshot is kept again');
});

t.test('follows the head once the snapshot is `ms` old', async (t) => {
  const s = new HeadSnapshot({ versions: 1_000, ms: 500 });
  t.equal(s.resolve(100n, 1_000), 100n);
  t.equal(s.resolve(101n, 1_499), 100n, 'younger than ms: kept');
  t.equal(s.resolve(102n, 1_500), 102n, 'ms old: follows');
  t.equal(s.resolve(103n, 1_999), 102n, 'age counted from the new snapshot');
  t.equal(s.resolve(104n, 2_000), 104n);
});

t.test('without a versions bound only the age moves it', async (t) => {
  const s = new HeadSnapshot({ ms: 100 });
  t.equal(s.resolve(1n, 0), 1n);
  t.equal(s.resolve(1_000_000n, 99), 1n, 'far ahead but young: kept');
  t.equal(s.resolve(1_000_000n, 100), 1_000_000n);
});

t.test('0/0 is exactly the current head', async (t) => {
  const s = new HeadSnapshot({ versions: 0, ms: 0 });
  for (const [head, now] of [[1n, 0], [2n, 0], [3n, 0], [3n, 1], [7n, 1], [8n, 2]] as const) {
    t.equal(s.resolve(head, now), head, `head ${head} at ${now}`);
  }
});

t.test('versions 0 alone follows every new head even within ms', async (t) => {
  const s = new HeadSnapshot({ versions: 0, ms: 60_000 });
  t.equal(s.resolve(10n, 0), 10n);
  t.equal(s.resolve(10n, 1), 10n);
  t.equal(s.resolve(11n, 2), 11n);
});

t.test('follows a head that goes back, at once', async (t) => {
  const s = new HeadSnapshot({ versions: 100, ms: 60_000 });
  t.equal(s.resolve(500n, 0), 500n);
  t.equal(s.resolve(490n, 1), 490n, 'the node that was ahead left: follow down');
  t.equal(s.resolve(495n, 2), 490n, 'then the normal bound applies again');
});

t.test('previous is the snapshot before the current one', async (t) => {
  const s = new HeadSnapshot({ versions: 0, ms: 0 });
  t.equal(s.previous, undefined);
  s.resolve(1n, 0);
  t.equal(s.previous, undefined, 'the first snapshot has no predecessor');
  s.resolve(1n, 1);
  t.equal(s.previous, undefined, 're-taking the same head does not make it its own predecessor');
  s.resolve(2n, 2);
  t.equal(s.previous, 1n);
  s.resolve(2n, 3);
  t.equal(s.previous, 1n, 'still the one before 2');
  s.resolve(5n, 4);
  t.equal(s.previous, 2n);
  s.resolve(undefined, 5);
  t.equal(s.previous, 2n, 'an unknown head changes nothing');
});

t.test('previous does not move while the snapshot is kept', async (t) => {
  const s = new HeadSnapshot({ versions: 10, ms: 60_000 });
  s.resolve(100n, 0);
  s.resolve(105n, 1);
  t.equal(s.previous, undefined);
  s.resolve(120n, 2);
  t.equal(s.previous, 100n);
});

t.test('after the head goes back, previous is never the abandoned higher head', async (t) => {
  const s = new HeadSnapshot({ versions: 0, ms: 0 });
  s.resolve(100n, 0);
  s.resolve(105n, 1);
  t.equal(s.previous, 100n);
  t.equal(s.resolve(102n, 2), 102n, 'reorg to a shorter chain: follows back');
  t.equal(s.previous, 100n, 'the older snapshot below the new head stays a fallback, 105 does not');
  t.equal(s.resolve(99n, 3), 99n);
  t.equal(s.previous, undefined, 'nothing at or above the new head is a previous answer');
});

t.test('a snapshot below the read-your-writes floor follows at once, whatever the bound', async (t) => {
  const s = new HeadSnapshot({ versions: 1_000, ms: 60_000 });
  t.equal(s.resolve(100n, 0), 100n);
  t.equal(s.resolve(101n, 1), 100n, 'within the bound: kept');
  t.equal(s.resolve(101n, 2, 101n), 101n, 'the floor passed it: moves');
});
