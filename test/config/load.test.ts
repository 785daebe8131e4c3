import t from 'tap';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

const base = `
upstreams:
  aptos:
    dialect: aptos-rest
    primary: http://127.0.0.1:8081
    replicas: [http://127.0.0.1:8082, http://127.0.0.1:8083]
routes:
  - match: { pathPrefix: /v1, methods: [GET, POST] }
    upstream: aptos
`;

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'test.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('defaults are applied and the result is frozen', async (t) => {
  const c = parseConfigText(base, 'test.yaml', {});
  t.equal(c.server.listen, '0.0.0.0:8080');
  t.equal(c.server.admin, '127.0.0.1:9090');
  t.equal(c.server.maxBodyBytes, 1_048_576);
  t.equal(c.upstreams['aptos']?.balance, 'round-robin');
  t.equal(c.routes[0]?.cache.enabled, true, 'caching is on by default');
  t.equal(c.routes[0]?.cache.ttlMs.immutable, 3_600_000);
  t.equal(c.cache.memory.maxBytes, 64 * 1024 * 1024);
  t.equal(c.cache.redis, undefined, 'no Redis by default');
  t.ok(Object.isFrozen(c.upstreams['aptos']?.replicas));
});

t.test('an unknown key is refused with its path and line', async (t) => {
  const p = problems(`${base}    cahce: { enabled: false }\n`);
  t.same(p, ['routes[0].cahce (line 10): unknown key']);
  t.same(problems(`${base}extra: 1\n`), ['extra (line 10): unknown key']);
});

t.test('a bad URL names the offending entry', async (t) => {
  const p = problems(base.replace('http://127.0.0.1:8083', 'not-a-url'));
  t.equal(p.length, 1);
  t.match(p[0], /^upstreams\.aptos\.replicas\[1\] \(line 6\): not a URL/);
});

t.test('wrong types, enums and missing keys', async (t) => {
  t.match(problems(base.replace('aptos-rest', 'bitcoin-rpc'))[0], /^upstreams\.aptos\.dialect \(line 4\): /);
  t.match(problems(`${base}server: { maxBodyBytes: "big" }\n`)[0], /^server\.maxBodyBytes .*number/);
  t.match(problems(base.replace('    primary: http://127.0.0.1:8081\n', ''))[0], /^upstreams\.aptos\.primary.*required/);
  t.match(problems('upstreams: {}\nroutes: []\n').join('\n'), /routes/);
});

t.test('cross-key rules', async (t) => {
  t.match(problems(base.replace('upstream: aptos', 'upstream: evm'))[0], /^routes\[0\]\.upstream .*no upstream group named "evm"/);
  t.match(problems(`${base}server: { listen: 0.0.0.0:9090, admin: 127.0.0.1:9090 }\n`)[0], /^server\.admin.*must differ/);
  t.match(problems(`${base}cache: { redis: { url: "http://x" } }\n`)[0], /^cache\.redis\.url.*redis:\/\//);
  t.match(problems(`${base}cache: { redis: { prefix: "x:" } }\n`)[0], /^cache\.redis.*exactly one of/);
});

t.test('${ENV} interpolation, defaults and missing variables', async (t) => {
  const text = base.replace('replicas:', 'headers: { authorization: "Bearer ${KEY}", x-tenant: "${TENANT:-public}" }\n    replicas:');
  const c = parseConfigText(text, 'test.yaml', { KEY: 's3cret' });
  t.same(c.upstreams['aptos']?.headers, { authorization: 'Bearer s3cret', 'x-tenant': 'public' });
  t.match(problems(text, {})[0], /^upstreams\.aptos\.headers\.authorization \(line \d+\): environment variable KEY is not set/);
});

t.test('environment overrides', async (t) => {
  const c = parseConfigText(base, 'test.yaml', { LEDGERPROXY_LISTEN: '127.0.0.1:18080', LOG_LEVEL: 'debug', LEDGERPROXY_REDIS_URL: 'redis://127.0.0.1:6379' });
  t.equal(c.server.listen, '127.0.0.1:18080');
  t.equal(c.log.level, 'debug');
  t.equal(c.cache.redis?.url, 'redis://127.0.0.1:6379');
  t.equal(c.cache.redis?.prefix, 'ledgerproxy:');
});

t.test('YAML syntax errors and duplicate keys are refused', async (t) => {
  t.match(problems('upstreams: [\n')[0], /^YAML: /);
  t.match(problems(`${base}routes: []\n`)[0], /^YAML: .*[Uu]nique|^YAML: .*duplicate/i);
});
