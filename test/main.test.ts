// The CLI as an operator runs it: check-config's exit codes and messages, schema output, a bad
// config refused at start with the offending key's path.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const root = join(import.meta.dirname, '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });

t.test('check-config: the shipped config is valid (exit 0)', async (t) => {
  const r = cli('check-config', 'proxy.config.yaml');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /proxy\.config\.yaml: valid/);
});

t.test('check-config: a bad file exits 1 and names the key path and line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lp-cli-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'upstreams:\n  aptos:\n    dialect: aptos-rest\n    primary: http://127.0.0.1:1\n    replicas: [nope]\nroutes:\n  - match: { pathPrefix: /v1 }\n    upstream: aptos\n    cahce: {}\n');
  const r = cli('check-config', file);
  t.equal(r.status, 1);
  t.match(r.stderr, /upstreams\.aptos\.replicas\[0\] \(line 5\): not a URL/);
  t.match(r.stderr, /routes\[0\]\.cahce \(line 9\): unknown key/);
  const run = cli('--config', file);
  t.equal(run.status, 1, 'the proxy refuses to start on it');
  t.match(run.stderr, /unknown key/);
});

t.test('schema prints the JSON Schema', async (t) => {
  const r = cli('schema');
  t.equal(r.status, 0);
  const schema = JSON.parse(r.stdout) as { properties: Record<string, unknown> };
  t.ok(schema.properties['upstreams']);
  t.ok(schema.properties['routes']);
});
