import t from 'tap';
import { BodySlab, ownedCopy, SLAB_BODY_MAX } from '../src/buffers.js';

t.test('ownedCopy copies a slice out of a larger allocation, keeps a whole buffer', async (t) => {
  const whole = Buffer.allocUnsafeSlow(8).fill(1);
  t.equal(ownedCopy(whole), whole);
  const big = Buffer.from('0123456789abcdef0123456789abcdef');
  const slice = big.subarray(4, 8);
  const owned = ownedCopy(slice);
  t.not(owned.buffer, big.buffer, 'a buffer of its own');
  t.equal(owned.byteLength, owned.buffer.byteLength);
  t.equal(owned.toString(), '4567');
});

t.test('a slab packs small bodies into shared allocations that ownedCopy keeps', async (t) => {
  const bodies = Array.from({ length: 20 }, (_, i) => Buffer.from(`"0x${String(i).repeat(32).slice(0, 64)}"`));
  const total = bodies.reduce((n, b) => n + b.length, 0);
  const slab = new BodySlab(total);
  const packed = bodies.map((b) => slab.pack(b));
  packed.forEach((p, i) => t.same(p, bodies[i], `body ${i} byte for byte`));
  for (const p of packed) t.equal(ownedCopy(p), p, 'a slab view is owned: no copy');
  const buffers = new Set(packed.map((p) => p.buffer));
  t.equal(buffers.size, Math.ceil(total / 1024), 'one allocation per kilobyte');
  t.ok([...buffers].every((b) => b.byteLength <= 1024), 'no slab over a kilobyte');
  const allocated = [...buffers].reduce((n, b) => n + b.byteLength, 0);
  t.ok(allocated >= total && allocated < total + buffers.size * SLAB_BODY_MAX, `sized to what is packed (${allocated} for ${total})`);
  const before = bodies[1]?.toString();
  bodies[1]?.fill(0);
  t.equal(packed[1]?.toString(), before, 'a copy: the source may change after');
});

t.test('a slab sized for less than it is given still packs every body', async (t) => {
  const slab = new BodySlab(4);
  const a = slab.pack(Buffer.from('abcd'));
  const b = slab.pack(Buffer.alloc(SLAB_BODY_MAX, 0x41));
  t.equal(a.toString(), 'abcd');
  t.equal(b.length, SLAB_BODY_MAX);
  t.not(a.buffer, b.buffer);
  t.equal(ownedCopy(b), b);
});

t.test('a slab packs a range of a larger body, and takes back only the last view it made', async (t) => {
  const body = Buffer.from('[{"id":0,"result":"0xaa"},{"id":1,"result":null},{"id":2,"result":"0xcc"}]');
  const range = (text: string): [number, number] => {
    const at = body.indexOf(text);
    return [at, at + text.length];
  };
  const slab = new BodySlab(6 + 4 + 6);
  const a = slab.packRange(body, ...range('"0xaa"'));
  const refused = slab.packRange(body, ...range('null'));
  t.equal(refused.toString(), 'null');
  t.throws(() => slab.unpackLast(a), /not the last view/, 'only the last view packed can be given back');
  slab.unpackLast(refused);
  const c = slab.packRange(body, ...range('"0xcc"'));
  t.equal(a.toString(), '"0xaa"', 'the views before are untouched');
  t.equal(c.toString(), '"0xcc"');
  t.equal(c.buffer, a.buffer, 'the bytes given back were reused');
  t.equal(c.byteOffset, a.byteOffset + a.length, 'right after the last view kept');
});
