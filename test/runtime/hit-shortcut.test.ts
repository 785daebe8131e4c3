import t from 'tap';
import { HitShortcut } from '../../src/runtime/hit-shortcut.js';

const PATH = '/v1/transactions/by_version/5';

t.test('a HEAD fingerprints like the GET it reads; other methods and bytes stay apart', async (t) => {
  const s = new HitShortcut();
  const fp = (method: string, query = '', headers = {}, body = '') => s.fingerprint(0, method, PATH, query, headers, Buffer.from(body));
  t.equal(fp('HEAD'), fp('GET'), 'HEAD shares the GET fingerprint');
  t.not(fp('POST'), fp('GET'));
  t.not(fp('HEAD', 'a=1'), fp('GET'));
  t.not(fp('HEAD', '', { accept: 'application/x-bcs' }), fp('GET'));
  t.not(s.fingerprint(1, 'HEAD', PATH, '', {}, Buffer.alloc(0)), fp('GET'), 'route index is part of it');
  t.equal(s.fingerprint(0, 'GET', PATH, '', {}, Buffer.alloc(5000)), undefined, 'big bodies never take the shortcut');
});
