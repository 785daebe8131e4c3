import t from 'tap';
import { BodyTooLargeError } from '../src/errors.js';
t.test('errors carry a stable code', async (t) => {
  const e = new BodyTooLargeError('x');
  t.equal(e.code, 'body_too_large');
  t.equal(e.status, 413);
});
