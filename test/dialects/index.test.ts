import t from 'tap';
import { dialectFor } from '../../src/dialects/index.js';
import type { DialectName } from '../../src/dialects/types.js';

t.test('dialectFor returns the dialect of that name', async (t) => {
  const names: Array<[DialectName, 'rest' | 'jsonrpc']> = [
    ['aptos-rest', 'rest'],
    ['evm-jsonrpc', 'jsonrpc'],
    ['neo-jsonrpc', 'jsonrpc'],
  ];
  for (const [name, kind] of names) {
    t.equal(dialectFor(name).name, name);
    t.equal(dialectFor(name).kind, kind);
  }
});
