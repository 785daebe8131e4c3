// Request ids: a client's plain token is kept, anything else gets a fresh random version-4 UUID,
// distinct from every other, across refills of the random pool.
import t from 'tap';
import { newRequestId, requestIdOf } from '../../src/server/context.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test('generated ids are distinct version-4 UUIDs', async (t) => {
  const seen = new Set<string>();
  let bad = 0;
  for (let i = 0; i < 5000; i++) {
    const id = newRequestId();
    if (!UUID_V4.test(id)) bad++;
    seen.add(id);
  }
  t.equal(bad, 0, 'every id is a v4 UUID');
  t.equal(seen.size, 5000, 'no id repeats (the pool of random bytes is refilled, not reused)');
  // Every hex digit position varies (the bytes are random, not a counter).
  const ids = [...seen];
  for (const at of [0, 7, 9, 15, 20, 24, 35]) t.ok(new Set(ids.map((id) => id[at])).size > 3, `position ${at} varies`);
});

t.test('a client id is kept when it is a plain token, replaced otherwise', async (t) => {
  t.equal(requestIdOf({ 'x-request-id': 'req-123:a.b' }), 'req-123:a.b');
  t.match(requestIdOf({}), UUID_V4);
  t.match(requestIdOf({ 'x-request-id': 'has space' }), UUID_V4);
  t.match(requestIdOf({ 'x-request-id': 'x'.repeat(129) }), UUID_V4);
  t.match(requestIdOf({ 'x-request-id': ['a', 'b'] as unknown as string }), UUID_V4);
});
