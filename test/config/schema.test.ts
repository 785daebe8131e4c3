// The published JSON Schema comes from the same source as validation; it must not drift, and it
// must accept the shipped config and every example an operator copies from.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { jsonSchema } from '../../src/config/schema.js';

const root = join(import.meta.dirname, '..', '..');
const committed = JSON.parse(readFileSync(join(root, 'schema', 'proxy.config.schema.json'), 'utf8')) as object;

t.test('the committed schema is the generated one (run `npm run schema` after changing the config)', async (t) => {
  t.same(committed, jsonSchema());
});

t.test('the shipped config and the examples validate against the JSON Schema', async (t) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(committed);
  const files = [join(root, 'proxy.config.yaml'), ...exampleConfigs(join(root, 'examples'))];
  t.ok(files.length >= 2);
  for (const file of files) {
    const ok = validate(parse(readFileSync(file, 'utf8')));
    t.ok(ok, `${file}: ${JSON.stringify(validate.errors)}`);
  }
  t.notOk(validate({ upstreams: {}, routes: [{ match: {}, upstream: 'x', typo: 1 }] }), 'unknown keys are refused by the schema too');
});

function exampleConfigs(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
      .map((f) => join(dir, f))
      .filter((f) => /^\s*upstreams:/m.test(readFileSync(f, 'utf8')));
  } catch {
    return [];
  }
}
