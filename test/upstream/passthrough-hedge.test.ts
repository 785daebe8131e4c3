// The sink-claiming rule of hedged pass-through: one attempt's answer reaches the client, nothing
// before the claim, a gateway status yields to a rival still running.
import t from 'tap';
import { ClaimableSink } from '../../src/upstream/passthrough-hedge.js';
import type { RelaySink } from '../../src/upstream/passthrough-http.js';

/** The client's side as a recording sink: what would have been written to the response. */
function recordingSink(): RelaySink & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    start(status) {
      log.push(`start ${status}`);
      return true;
    },
    write(chunk) {
      log.push(`write ${chunk.toString()}`);
      return true;
    },
    onDrain() {},
    end() {
      log.push('end');
    },
    onGone() {},
  };
}

t.test('the first attempt with headers claims the sink; a later one is refused and writes nothing', async (t) => {
  const real = recordingSink();
  const claims = new ClaimableSink(real);
  const claimed: string[] = [];
  const a = claims.forAttempt(() => true, () => claimed.push('a'));
  const b = claims.forAttempt(() => true, () => claimed.push('b'));
  t.equal(real.log.length, 0, 'nothing reaches the client before a claim');
  t.equal(claims.claimed, false);
  t.equal(b.start(200, ['x', '1'], {}), true, 'b answered first and claims');
  t.equal(a.start(200, ['x', '2'], {}), false, 'a comes second: refused');
  b.write(Buffer.from('body'));
  b.end();
  t.same(claimed, ['b'], 'onClaim ran once, for the winner');
  t.same(real.log, ['start 200', 'write body', 'end'], 'only the winner reached the client');
});

t.test('a gateway status yields to a rival still running, and is relayed when there is none', async (t) => {
  const real = recordingSink();
  const claims = new ClaimableSink(real);
  let rival = true;
  const a = claims.forAttempt(() => rival, () => {});
  for (const status of [502, 503, 504]) t.equal(a.start(status, [], {}), false, `${status} declined while a rival runs`);
  t.equal(claims.claimed, false, 'the sink is still free for the rival');
  t.equal(real.log.length, 0);
  rival = false;
  t.equal(a.start(503, [], {}), true, 'with no rival the node\'s 503 is the answer');
  t.same(real.log, ['start 503']);
});

t.test('other statuses claim whatever the rival does', async (t) => {
  for (const status of [200, 404, 500, 429]) {
    const real = recordingSink();
    const a = new ClaimableSink(real).forAttempt(() => true, () => {});
    t.equal(a.start(status, [], {}), true, `${status} claims`);
    t.same(real.log, [`start ${status}`]);
  }
});
