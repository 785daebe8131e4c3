import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { evmJsonRpc } from '../../src/dialects/evm-jsonrpc.js';
import { ReadFloor } from '../../src/runtime/read-floor.js';
import { ReplicaSet } from '../../src/upstream/replica-set.js';
import type { TapTest } from '../support/tap-test.js';

// Nodes are never contacted: heads are set by hand, as a poll would.
function setup(t: TapTest) {
  const cfg = parseConfigText(`
server: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
upstreams:
  evm: { dialect: evm-jsonrpc, primary: "http://127.0.0.1:9/", replicas: ["http://127.0.0.1:10/"] }
routes: [{ match: { pathPrefix: / }, upstream: evm }]
`, 'floor-test');
  const set = new ReplicaSet('evm', cfg.upstreams['evm']!, evmJsonRpc);
  t.teardown(() => set.close());
  return { set, floor: new ReadFloor(set) };
}

t.test('the floor only rises, and the latest head is never below it', async (t) => {
  const { set, floor } = setup(t);
  set.primary.setPolledHead(10n, Date.now());
  t.equal(floor.head(), 10n, 'no floor: the tracked head');
  let ahead = 0;
  floor.onAheadOfNodes = () => { ahead++; };
  t.equal(floor.raise(12n), true);
  t.equal(floor.head(), 12n, 'a node showed 12: latest is 12 before any poll says so');
  t.equal(ahead, 1, 'the head tracker is asked to poll at once');
  t.equal(floor.raise(11n), false, 'never lower');
  t.equal(floor.value, 12n);
  set.primary.setPolledHead(15n, Date.now());
  t.equal(floor.head(), 15n, 'the tracked head above the floor wins');
});

t.test('follows the nodes down only when every node in rotation, polled after the rise, is below', async (t) => {
  const { set, floor } = setup(t);
  const [primary, replica] = [set.primary, set.replicas[0]!];
  floor.raise(20n);
  const beforeRise = Date.now() - 1000;
  primary.setPolledHead(18n, Date.now());
  floor.polled(primary, beforeRise, performance.now());
  replica.setPolledHead(17n, Date.now());
  floor.polled(replica, beforeRise, performance.now());
  t.equal(floor.value, 20n, 'polls sent before the rise cannot pull it down');
  const later = Date.now() + 1;
  floor.polled(primary, later, performance.now());
  t.equal(floor.value, 20n, 'one node polled since: not yet');
  floor.polled(replica, later, performance.now());
  t.equal(floor.value, 18n, 'all in rotation below it: down to the highest of them');
  t.equal(floor.head(), 18n);
});

t.test('a node above the floor keeps it', async (t) => {
  const { set, floor } = setup(t);
  floor.raise(20n);
  const later = Date.now() + 1;
  set.primary.setPolledHead(25n, Date.now());
  floor.polled(set.primary, later, performance.now());
  set.replicas[0]!.setPolledHead(5n, Date.now());
  floor.polled(set.replicas[0]!, later, performance.now());
  t.equal(floor.value, 20n);
});

t.test('fresh while a poll or an answer confirmed the head within the bound', async (t) => {
  const { floor } = setup(t);
  t.equal(floor.isFresh(1000, 500), false, 'never confirmed');
  floor.confirm(1000);
  t.equal(floor.isFresh(1400, 500), true);
  t.equal(floor.isFresh(1501, 500), false, 'past the bound: frozen');
});

t.test('adopt (from the fleet) rises without echo', async (t) => {
  const { floor } = setup(t);
  const echoed: bigint[] = [];
  floor.onRise = (v) => echoed.push(v);
  floor.raise(5n);
  floor.adopt(9n);
  t.equal(floor.value, 9n);
  t.same(echoed, [5n]);
});
