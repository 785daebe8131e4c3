// The hit scenario's run order: every target takes every position over the rounds, and the two
// proxies the logging goal compares are measured back to back, in alternating order.
import t from 'tap';
import { roundOrder } from '../../bench/scenarios/hit.js';

const targets = ['bare node:http (same bytes)', 'ledgerproxy (L1 hit)', 'ledgerproxy (L1 hit, shipped request logging)', 'baseline: main'].map((name) => ({ name }));
const names = (round: number) => roundOrder(targets, round).map((x) => x.name);

t.test('each round measures every target once', async (t) => {
  for (let r = 0; r < 6; r++) t.same([...names(r)].sort(), targets.map((x) => x.name).sort());
});

t.test('the plain and logged proxies stay adjacent and swap who goes first', async (t) => {
  for (let r = 0; r < 6; r++) {
    const order = names(r);
    const plain = order.indexOf('ledgerproxy (L1 hit)');
    const logged = order.indexOf('ledgerproxy (L1 hit, shipped request logging)');
    t.equal(Math.abs(plain - logged), 1, `round ${r}: adjacent`);
    t.equal(plain < logged, r % 2 === 0, `round ${r}: ${r % 2 === 0 ? 'plain' : 'logged'} first`);
  }
});

t.test('no target is always last: the order rotates', async (t) => {
  const lasts = new Set([0, 1, 2].map((r) => names(r).at(-1)));
  t.ok(lasts.size >= 2, `last targets over three rounds: ${[...lasts].join(', ')}`);
  const firsts = new Set([0, 1, 2].map((r) => names(r)[0]));
  t.equal(firsts.size, 3, 'three rounds start with three different units');
});
