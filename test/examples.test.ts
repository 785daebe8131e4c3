// Checks that the deployment examples stay true to the product: every YAML under examples/
// parses, every proxy config validates against the real schema, the Kubernetes manifests probe
// the admin port and route traffic to the proxy port, compose wires the right ports and files,
// the dashboard and alert rules only use metrics that src/metrics/metrics.ts defines, and the
// Dockerfile builds a non-root image with a health check. The checkers themselves are tested
// on bad input first, so a check that cannot fail would show up here.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseConfigText } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { registry } from '../src/metrics/metrics.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const examples = join(repo, 'examples');
const read = (p: string) => readFileSync(p, 'utf8');
const rel = (p: string) => relative(repo, p);

// Values for ${ENV} references in the examples; a controlled env, not the developer's shell.
const baseEnv: NodeJS.ProcessEnv = {
  REDIS_URL: 'redis://redis.test:6379/0',
  LEDGERPROXY_ADMIN_TOKEN: 'test-admin-token-0123456789',
};

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const yamlFiles = walk(examples).filter((p) => /\.ya?ml$/.test(p));

function loadDocs(file: string): Obj[] {
  const docs = parseAllDocuments(read(file));
  const list = Array.isArray(docs) ? docs : [docs];
  return list.filter((d) => d.contents !== null).map((d) => d.toJS() as Obj);
}

// ---------------------------------------------------------------------------------------------
// Dockerfile parsing (instructions with continuations joined; comments and directives dropped)

interface Instruction {
  op: string;
  args: string;
}

function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1).trimEnd() + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

function dockerStages(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const ins of dockerInstructions(text)) {
    if (ins.op === 'FROM') stages.push([ins]);
    else stages[stages.length - 1]?.push(ins);
  }
  return stages;
}

/** ENV KEY=value pairs of a stage (both syntaxes). */
function dockerEnv(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of stage.filter((i) => i.op === 'ENV')) {
    const pairs = [...ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)];
    if (pairs.length === 0) {
      const [k, ...v] = ins.args.split(/\s+/);
      if (k) env[k] = v.join(' ');
    }
    for (const p of pairs) env[p[1]!] = p[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

function isExecForm(args: string): boolean {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((s) => typeof s === 'string');
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Metric names: what metrics.ts defines, what an expression uses

interface KnownMetrics {
  names: Set<string>; // every series name that may be queried
  defined: Map<string, string>; // name: type, scanned from metrics.ts
}

function scanMetricsSource(src: string): Map<string, string> {
  const ns = /const\s+ns\s*=\s*['"`]([^'"`]+)['"`]/.exec(src)?.[1] ?? '';
  const defined = new Map<string, string>();
  for (const chunk of src.split(/new\s+client\./).slice(1)) {
    const type = /^(\w+)/.exec(chunk)?.[1] ?? '';
    const name = /name:\s*[`'"]([^`'"]+)[`'"]/.exec(chunk)?.[1];
    if (name) defined.set(name.replace('${ns}', ns), type.toLowerCase());
  }
  return defined;
}

function seriesNames(name: string, type: string): string[] {
  return type === 'histogram' || type === 'summary' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names an expression selects (functions, keywords, labels, strings and ranges left out). */
function metricsInExpr(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w:$.])([a-zA-Z_:][\w:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2]) continue; // a function or aggregation
    if (PROMQL_WORDS.has(m[1]!.toLowerCase())) continue;
    out.push(m[1]!);
  }
  return out;
}

function unknownMetrics(expr: string, known: KnownMetrics): string[] {
  return metricsInExpr(expr).filter((n) => !known.names.has(n));
}

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  const s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const ch of s) {
    if (ch === '(' || ch === '[' || ch === '{') stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0;
}

async function knownMetrics(): Promise<KnownMetrics> {
  const defined = scanMetricsSource(read(join(repo, 'src/metrics/metrics.ts')));
  const names = new Set<string>(['up']); // Prometheus' own per-target series
  for (const [n, type] of defined) for (const s of seriesNames(n, type)) names.add(s);
  // collectDefaultMetrics({ prefix: 'ledgerproxy_' }): process_* and nodejs_* as the registry has them.
  for (const m of await registry.getMetricsAsJSON()) {
    if (/^ledgerproxy_(process|nodejs)_/.test(m.name)) for (const s of seriesNames(m.name, String(m.type))) names.add(s);
  }
  return { names, defined };
}

// ---------------------------------------------------------------------------------------------
// Proxy configs

function validate(text: string, source: string, env: NodeJS.ProcessEnv = baseEnv): Config {
  return parseConfigText(text, source, { ...env });
}

function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

const proxyConfigFiles = yamlFiles.filter((f) => {
  if (/[\\/](kubernetes|prometheus|grafana)[\\/]/.test(f) || basename(f).startsWith('docker-compose')) return false;
  const docs = loadDocs(f);
  return docs.length === 1 && typeof docs[0] === 'object' && docs[0] !== null && 'upstreams' in docs[0];
});

// ---------------------------------------------------------------------------------------------

t.test('checkers catch bad input', async (t) => {
  const known: KnownMetrics = {
    names: new Set(['up', 'ledgerproxy_requests_total', 'ledgerproxy_upstream_request_duration_seconds_bucket']),
    defined: new Map(),
  };
  t.same(
    unknownMetrics('histogram_quantile(0.99, sum by (group, le) (rate(ledgerproxy_upstream_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))', known),
    [],
  );
  t.same(unknownMetrics('sum(rate(ledgerproxy_requests_total{cache="hit"}[5m])) / sum(rate(ledgerproxy_requests_total[5m])) > 1e3 and up == 0', known), []);
  t.same(unknownMetrics('process_resident_memory_bytes > 400 * 1024', known), ['process_resident_memory_bytes'], 'unprefixed default metric');
  t.same(unknownMetrics('rate(ledgerproxy_request_total[5m])', known), ['ledgerproxy_request_total'], 'misspelt metric');
  t.same(unknownMetrics('ledgerproxy_upstream_request_duration_seconds > 1', known), ['ledgerproxy_upstream_request_duration_seconds'], 'bare histogram name');
  t.notOk(balanced('sum(rate(x[5m])'), 'unbalanced parentheses');
  t.ok(balanced('sum by (a) (rate(x{a="("}[5m]))'), 'brackets inside strings do not count');

  const scanned = scanMetricsSource("const ns = 'p_';\nnew client.Histogram({ name: `${ns}lat_seconds` });\nnew client.Gauge({\n  name: `${ns}up` });");
  t.same([...scanned], [['p_lat_seconds', 'histogram'], ['p_up', 'gauge']]);

  const df = dockerStages('FROM a AS b\nRUN x \\\n  && y\n# c\nFROM node:24-bookworm-slim\nENV A=1 \\\n    B="two"\nUSER root\n');
  t.equal(df.length, 2);
  t.equal(df[0]![1]!.args, 'x && y');
  t.same(dockerEnv(df[1]!), { A: '1', B: 'two' });
  t.notOk(isExecForm('node dist/src/main.js'));
  t.ok(isExecForm('["node", "dist/src/main.js"]'));

  t.throws(() => validate('upstreams: {}\nroutes: []\n', 'empty.yaml'), 'schema rejects an empty config');
  const ok = 'upstreams:\n  a:\n    dialect: aptos-rest\n    primary: http://127.0.0.1:8081\nroutes:\n  - match: { pathPrefix: /v1 }\n    upstream: a\n';
  t.ok(validate(ok, 'ok.yaml'));
  t.throws(() => validate(ok + '    cahce: {}\n', 'typo.yaml'), 'schema rejects an unknown key');
  t.throws(() => validate(ok.replace('http://127.0.0.1:8081', '${NOT_SET_ANYWHERE}'), 'env.yaml'), 'missing env var is an error');
});

t.test('every YAML under examples/ parses', async (t) => {
  t.ok(yamlFiles.length >= 10, `found ${yamlFiles.length} YAML files`);
  for (const f of yamlFiles) {
    const docs = parseAllDocuments(read(f));
    const list = Array.isArray(docs) ? docs : [docs];
    const errors = list.flatMap((d) => d.errors.map((e) => e.message));
    t.same(errors, [], `${rel(f)} parses`);
    const multi = /[\\/]kubernetes[\\/]/.test(f);
    if (!multi) t.equal(list.length, 1, `${rel(f)} is one document`);
    for (const d of list) t.type(d.toJS(), 'object', `${rel(f)}: each document is a mapping`);
  }
});

t.test('example proxy configs validate against the schema', async (t) => {
  const expected = ['aptos-local.yaml', 'evm.yaml', 'neo.yaml', 'fleet-redis.yaml'].map((n) => join(examples, n));
  for (const f of expected) t.ok(proxyConfigFiles.includes(f), `${rel(f)} exists and is a proxy config`);

  for (const f of proxyConfigFiles) {
    t.doesNotThrow(() => validate(read(f), rel(f)), `${rel(f)} validates`);
  }

  const aptos = validate(read(join(examples, 'aptos-local.yaml')), 'aptos-local.yaml');
  t.equal(aptos.upstreams['aptos']?.dialect, 'aptos-rest');
  t.equal(aptos.upstreams['aptos']?.primary, 'http://127.0.0.1:8081', 'node API moved off the proxy port');
  t.same(aptos.upstreams['aptos']?.replicas, ['http://127.0.0.1:8082', 'http://127.0.0.1:8083']);
  const nodePorts = [aptos.upstreams['aptos']!.primary, ...aptos.upstreams['aptos']!.replicas].map((u) => Number(new URL(u).port));
  t.notOk(nodePorts.includes(portOf(aptos.server.listen)) || nodePorts.includes(portOf(aptos.server.admin)), 'node ports do not clash with the proxy');

  const evm = validate(read(join(examples, 'evm.yaml')), 'evm.yaml');
  t.equal(evm.upstreams['eth']?.dialect, 'evm-jsonrpc');
  t.equal(evm.upstreams['eth']?.finalityDepth, 64);
  t.ok((evm.upstreams['eth']?.replicas.length ?? 0) >= 1, 'evm has replicas');
  t.ok(evm.routes.length >= 2, 'evm has per-route cache settings');
  t.not(JSON.stringify(evm.routes[0]?.cache), JSON.stringify(evm.routes[1]?.cache), 'routes differ in cache settings');
  const evmOverride = validate(read(join(examples, 'evm.yaml')), 'evm.yaml', { ...baseEnv, ETH_PRIMARY_URL: 'http://geth.test:8545' });
  t.equal(evmOverride.upstreams['eth']?.primary, 'http://geth.test:8545', '${ETH_PRIMARY_URL} is honoured');

  const neo = validate(read(join(examples, 'neo.yaml')), 'neo.yaml');
  t.equal(neo.upstreams['neo']?.dialect, 'neo-jsonrpc');
  t.equal(new URL(neo.upstreams['neo']!.primary).port, '10332');

  const fleet = validate(read(join(examples, 'fleet-redis.yaml')), 'fleet-redis.yaml');
  t.equal(fleet.cache.redis?.url, baseEnv['REDIS_URL'], 'redis url comes from ${REDIS_URL}');
  t.match(read(join(examples, 'fleet-redis.yaml')), /url:\s*\$\{REDIS_URL/, 'fleet-redis uses ${REDIS_URL}');
  t.throws(() => validate(read(join(examples, 'fleet-redis.yaml')), 'fleet-redis.yaml', { ...baseEnv, REDIS_URL: undefined }), 'REDIS_URL is required');
});

const repoConfig = join(repo, 'proxy.config.yaml');
t.test(
  "the repo's proxy.config.yaml validates",
  { skip: existsSync(repoConfig) ? false : 'proxy.config.yaml is not in the repo yet (the Dockerfile COPYs it: docker build fails until it exists)' },
  async (t) => {
    t.doesNotThrow(() => validate(read(repoConfig), 'proxy.config.yaml'));
  },
);

// ---------------------------------------------------------------------------------------------

interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  [k: string]: any;
}

function podSpec(workload: Obj): Obj {
  return workload['spec']?.['template']?.['spec'] ?? {};
}

function allContainers(workload: Obj): Container[] {
  const spec = podSpec(workload);
  return [...(spec['initContainers'] ?? []), ...(spec['containers'] ?? [])] as Container[];
}

function isProxy(c: Container): boolean {
  return c.name === 'ledgerproxy' || /ledgerproxy/.test(c.image);
}

function selects(selector: Obj | undefined, labels: Obj | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function resolvePort(port: number | string, containers: Container[]): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  for (const c of containers) for (const p of c.ports ?? []) if (p.name === port) return p.containerPort;
  return undefined;
}

const runtimeStage = (() => {
  const stages = dockerStages(existsSync(join(repo, 'Dockerfile')) ? read(join(repo, 'Dockerfile')) : '');
  return stages[stages.length - 1] ?? [];
})();
const imageEnv = dockerEnv(runtimeStage);

for (const manifest of ['sidecar.yaml', 'gateway.yaml']) {
  t.test(`kubernetes/${manifest}`, async (t) => {
    const file = join(examples, 'kubernetes', manifest);
    const docs = loadDocs(file);
    t.ok(docs.length >= 3, 'several documents');
    for (const d of docs) {
      t.ok(d['apiVersion'] && d['kind'] && d['metadata']?.['name'], `${d['kind']}/${d['metadata']?.['name']} has apiVersion, kind, name`);
    }
    const byKind = (kind: string) => docs.filter((d) => d['kind'] === kind);
    const configMaps = new Map(byKind('ConfigMap').map((d) => [d['metadata']['name'] as string, d]));
    const deployments = byKind('Deployment').filter((d) => allContainers(d).some(isProxy));
    t.equal(deployments.length, 1, 'one Deployment runs ledgerproxy');

    for (const dep of deployments) {
      const spec = podSpec(dep);
      const containers = allContainers(dep);
      const proxy = containers.find(isProxy)!;
      const podLabels = dep['spec']['template']['metadata']['labels'];
      t.ok(selects(dep['spec']['selector']['matchLabels'], podLabels), 'Deployment selector matches its pods');

      // probes on the admin port
      t.equal(proxy['livenessProbe']?.['httpGet']?.['path'], '/healthz', 'liveness probe: /healthz');
      t.equal(resolvePort(proxy['livenessProbe']?.['httpGet']?.['port'], [proxy]), 9090, 'liveness probe: port 9090');
      t.equal(proxy['readinessProbe']?.['httpGet']?.['path'], '/readyz', 'readiness probe: /readyz');
      t.equal(resolvePort(proxy['readinessProbe']?.['httpGet']?.['port'], [proxy]), 9090, 'readiness probe: port 9090');
      const ports = (proxy.ports ?? []).map((p) => p.containerPort).sort();
      t.same(ports, [8080, 9090], 'proxy container ports 8080 and 9090');

      // resources and security
      for (const k of ['cpu', 'memory']) {
        t.ok(proxy['resources']?.['requests']?.[k], `requests.${k}`);
        t.ok(proxy['resources']?.['limits']?.[k], `limits.${k}`);
      }
      const sc = { ...(spec['securityContext'] ?? {}), ...(proxy['securityContext'] ?? {}) };
      t.equal(sc['runAsNonRoot'], true, 'runAsNonRoot');
      t.ok(typeof sc['runAsUser'] === 'number' && sc['runAsUser'] > 0, 'numeric non-root runAsUser (the image USER is a name)');
      t.equal(proxy['securityContext']?.['readOnlyRootFilesystem'], true, 'readOnlyRootFilesystem');
      t.equal(proxy['securityContext']?.['allowPrivilegeEscalation'], false, 'no privilege escalation');
      for (const c of containers) {
        t.equal(c['securityContext']?.['readOnlyRootFilesystem'], true, `${c.name}: readOnlyRootFilesystem`);
        t.ok(c['resources']?.['requests'] && c['resources']?.['limits'], `${c.name}: requests and limits`);
      }

      // Prometheus scrape annotations
      const ann = dep['spec']['template']['metadata']['annotations'] ?? {};
      t.equal(ann['prometheus.io/scrape'], 'true', 'prometheus.io/scrape');
      t.equal(ann['prometheus.io/port'], '9090', 'prometheus.io/port');

      // the mounted config: from a ConfigMap in this file, valid, effective ports as probed
      const mount = (proxy['volumeMounts'] ?? []).find((m: Obj) => m['mountPath'] === '/etc/ledgerproxy');
      t.ok(mount, 'config mounted on /etc/ledgerproxy');
      t.notOk(mount?.['subPath'], 'mounted as a directory (subPath mounts never see ConfigMap updates)');
      const volume = (spec['volumes'] ?? []).find((v: Obj) => v['name'] === mount?.['name']);
      const cm = configMaps.get(volume?.['configMap']?.['name']);
      t.ok(cm, 'config volume is a ConfigMap defined in this file');
      const text = cm?.['data']?.['proxy.config.yaml'] as string | undefined;
      t.type(text, 'string', 'ConfigMap has proxy.config.yaml');
      const env: NodeJS.ProcessEnv = { ...imageEnv };
      for (const e of proxy.env ?? []) env[e.name] = e.value ?? 'from-a-secret-0123456789';
      let config: Config | undefined;
      t.doesNotThrow(() => {
        config = validate(text ?? '', `${manifest}: ConfigMap proxy.config.yaml`, env);
      }, 'ConfigMap proxy config validates with the image and container env');
      if (config) {
        t.equal(portOf(config.server.admin), 9090, 'effective admin port 9090');
        t.equal(portOf(config.server.listen), 8080, 'effective listen port 8080');
        t.not(config.server.admin.split(':')[0], '127.0.0.1', 'admin reachable by the kubelet and Prometheus');
        const drainS = (config.server.shutdown.drainDelayMs + config.server.shutdown.deadlineMs) / 1000;
        t.ok(spec['terminationGracePeriodSeconds'] > drainS, `grace period ${spec['terminationGracePeriodSeconds']} s > drain ${drainS} s`);
      }
      t.ok(spec['terminationGracePeriodSeconds'] > 30, 'grace period exceeds 30 s');

      // Services that select the proxy pods send traffic to 8080 only
      const services = byKind('Service').filter((s) => selects(s['spec']?.['selector'], podLabels));
      t.ok(services.length >= 1, 'a Service selects the proxy pods');
      for (const svc of services) {
        for (const p of svc['spec']['ports']) {
          const target = resolvePort(p['targetPort'] ?? p['port'], containers);
          t.equal(target, 8080, `Service ${svc['metadata']['name']} port ${p['port']} targets the proxy's 8080`);
          t.ok((proxy.ports ?? []).some((cp) => cp.containerPort === target), 'target is a port of the proxy container');
        }
      }

      if (manifest === 'sidecar.yaml') {
        t.equal(config?.upstreams[Object.keys(config.upstreams)[0]!]?.primary, 'http://127.0.0.1:8081', 'sidecar proxies the node on 127.0.0.1:8081');
        const node = containers.find((c) => !isProxy(c) && /aptos/.test(c.image) && spec['containers'].includes(c));
        t.ok(node, 'an Aptos node container runs in the same pod');
        t.notOk((node?.ports ?? []).some((p) => p.containerPort === 8080), 'the node does not claim 8080');
        const nodeCfgMap = [...configMaps.values()].find((m) => typeof m['data']?.['fullnode.yaml'] === 'string');
        const nodeCfg = nodeCfgMap ? (parseYaml(nodeCfgMap['data']['fullnode.yaml']) as Obj) : undefined;
        t.equal(nodeCfg?.['api']?.['address'], '127.0.0.1:8081', 'fullnode API on 127.0.0.1:8081');
      } else {
        t.equal(dep['spec']['replicas'], 2, 'gateway runs 2 replicas');
        const pdbs = byKind('PodDisruptionBudget').filter((p) => selects(p['spec']?.['selector']?.['matchLabels'], podLabels));
        t.equal(pdbs.length, 1, 'a PodDisruptionBudget covers the gateway pods');
        t.ok(pdbs[0]?.['spec']?.['minAvailable'] !== undefined || pdbs[0]?.['spec']?.['maxUnavailable'] !== undefined, 'PDB sets a bound');
        const upstreamUrls = Object.values(config?.upstreams ?? {}).flatMap((u) => [u.primary, ...u.replicas]);
        t.ok(upstreamUrls.length >= 2, 'several upstream nodes');
        for (const u of upstreamUrls) t.match(new URL(u).hostname, /\.svc(\.cluster\.local)?$/, `${u} is a Service DNS name`);
        const redisHost = new URL(config?.cache.redis?.url ?? 'redis://none').hostname;
        const redisSvc = byKind('Service').find((s) => s['metadata']['name'] === redisHost);
        t.ok(redisSvc, `Redis URL host ${redisHost} is a Service in this file`);
        const redisDep = byKind('Deployment').find((d) => selects(redisSvc?.['spec']?.['selector'], d['spec']['template']['metadata']['labels']));
        t.ok(redisDep && allContainers(redisDep).some((c) => /redis/.test(c.image)), 'the Redis Service selects a Redis Deployment');
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------

function parsePortMapping(p: string | Obj): { host?: number; container: number } {
  if (typeof p === 'object') return { host: p['published'] ? Number(p['published']) : undefined, container: Number(p['target']) };
  const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
  const container = Number(parts[parts.length - 1]);
  return { host: parts.length >= 2 ? Number(parts[parts.length - 2]) : undefined, container };
}

function seconds(d: string | undefined): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(String(d ?? ''));
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
}

/** Compose's own ${VAR:-default} interpolation, with nothing set: defaults win. */
function composeDefaults(v: string): string {
  return v.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _n: string, d: string | undefined) => d ?? '');
}

t.test('docker-compose.yml', async (t) => {
  const file = join(examples, 'docker-compose.yml');
  const compose = parseYaml(read(file)) as Obj;
  const services = compose['services'] as Obj;
  for (const s of ['ledgerproxy', 'redis', 'prometheus', 'grafana']) t.ok(services[s], `service ${s}`);

  const lp = services['ledgerproxy'];
  const ctx = resolve(examples, lp['build']?.['context'] ?? '.');
  t.equal(ctx, repo, 'ledgerproxy is built from the repository root');
  t.ok(existsSync(join(ctx, lp['build']?.['dockerfile'] ?? 'Dockerfile')), 'with the repo Dockerfile');
  const lpPorts = (lp['ports'] ?? []).map(parsePortMapping);
  t.ok(lpPorts.some((p: { container: number }) => p.container === 8080), 'publishes 8080');
  t.ok(lpPorts.some((p: { container: number }) => p.container === 9090), 'publishes 9090');
  t.ok(seconds(lp['stop_grace_period']) > 30, 'stop_grace_period exceeds the 30 s drain');

  const hostPorts = Object.values(services).flatMap((s: Obj) => (s['ports'] ?? []).map(parsePortMapping).map((p: { host?: number }) => p.host)).filter((h) => h !== undefined);
  t.equal(new Set(hostPorts).size, hostPorts.length, `host ports do not clash: ${hostPorts.join(', ')}`);

  // every bind mount exists
  const mounts = new Map<string, Map<string, string>>();
  for (const [name, s] of Object.entries(services) as [string, Obj][]) {
    const m = new Map<string, string>();
    for (const v of (s['volumes'] ?? []) as string[]) {
      const [src, dst] = String(v).split(':');
      if (!src || !dst || !/^\.\.?\//.test(src)) continue;
      t.ok(existsSync(resolve(examples, src)), `${name}: ${src} exists`);
      m.set(dst, resolve(examples, src));
    }
    mounts.set(name, m);
  }

  // the proxy's mounted config validates with the service's environment
  const cfgDir = mounts.get('ledgerproxy')?.get('/etc/ledgerproxy');
  const cfgFile = cfgDir ? join(cfgDir, 'proxy.config.yaml') : mounts.get('ledgerproxy')?.get('/etc/ledgerproxy/proxy.config.yaml');
  t.ok(cfgFile && existsSync(cfgFile), 'a proxy.config.yaml is mounted on /etc/ledgerproxy');
  const env: NodeJS.ProcessEnv = { ...imageEnv };
  for (const [k, v] of Object.entries((lp['environment'] ?? {}) as Obj)) env[k] = composeDefaults(String(v));
  let cfg: Config | undefined;
  t.doesNotThrow(() => {
    cfg = validate(read(cfgFile ?? '/nonexistent'), 'compose proxy config', env);
  }, 'compose proxy config validates');
  t.equal(portOf(cfg?.server.admin ?? ''), 9090);
  t.equal(portOf(cfg?.server.listen ?? ''), 8080);
  const redisHost = new URL(cfg?.cache.redis?.url ?? 'redis://none').hostname;
  t.ok(services[redisHost], `Redis URL host ${redisHost} is a compose service`);

  // Prometheus: scrapes ledgerproxy:9090, loads the mounted alert rules
  const promMounts = mounts.get('prometheus')!;
  const promCfgFile = promMounts.get('/etc/prometheus/prometheus.yml');
  t.equal(promCfgFile, join(examples, 'prometheus', 'prometheus.yml'), 'prometheus.yml mounted');
  const prom = parseYaml(read(promCfgFile ?? '/nonexistent')) as Obj;
  const targets = (prom['scrape_configs'] as Obj[]).flatMap((j) => (j['static_configs'] ?? []).flatMap((s: Obj) => s['targets'] as string[]));
  t.ok(targets.includes('ledgerproxy:9090'), 'scrapes ledgerproxy:9090');
  for (const rf of prom['rule_files'] as string[]) {
    t.equal(promMounts.get(rf), join(examples, 'prometheus', basename(rf)), `rule file ${rf} is mounted from examples/prometheus`);
  }
  t.ok((prom['rule_files'] as string[]).some((f) => basename(f) === 'alerts.yml'), 'alerts.yml loaded');

  // Grafana: datasource points at the prometheus service, the dashboard is where the provider looks
  const gMounts = mounts.get('grafana')!;
  const dsDir = gMounts.get('/etc/grafana/provisioning/datasources');
  const dbDir = gMounts.get('/etc/grafana/provisioning/dashboards');
  t.ok(dsDir && dbDir, 'grafana provisioning mounted');
  const datasources = walk(dsDir ?? '/nonexistent').flatMap((f) => (parseYaml(read(f)) as Obj)['datasources'] as Obj[]);
  const promDs = datasources.find((d) => d['type'] === 'prometheus');
  t.equal(promDs?.['url'], 'http://prometheus:9090', 'datasource -> prometheus:9090');
  const providers = walk(dbDir ?? '/nonexistent').flatMap((f) => (parseYaml(read(f)) as Obj)['providers'] as Obj[]);
  const dashPath = [...gMounts].find(([, src]) => src === join(examples, 'grafana', 'ledgerproxy-dashboard.json'))?.[0];
  t.ok(dashPath, 'dashboard JSON mounted');
  t.ok(providers.some((p) => dashPath?.startsWith(String(p['options']?.['path']) + '/')), 'dashboard is under a provider path');
});

// ---------------------------------------------------------------------------------------------

function collectExprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) collectExprs(v, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') out.push(v);
      else collectExprs(v, out);
    }
  }
  return out;
}

t.test('grafana dashboard', async (t) => {
  const known = await knownMetrics();
  t.ok(known.defined.size >= 15, `scanned ${known.defined.size} metrics from metrics.ts`);
  const registered = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  for (const n of known.defined.keys()) t.ok(registered.has(n), `scanned ${n} is registered`);

  const dash = JSON.parse(read(join(examples, 'grafana', 'ledgerproxy-dashboard.json'))) as Obj;
  const vars = dash['templating']['list'] as Obj[];
  t.ok(vars.some((v) => v['name'] === 'DS_PROMETHEUS' && v['type'] === 'datasource' && v['query'] === 'prometheus'), 'DS_PROMETHEUS datasource variable');

  const panels = (dash['panels'] as Obj[]).flatMap((p) => [p, ...((p['panels'] as Obj[] | undefined) ?? [])]);
  const ids = panels.map((p) => p['id']);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const boxes = panels.map((p) => p['gridPos'] as { x: number; y: number; w: number; h: number });
  for (const b of boxes) t.ok(b && b.x >= 0 && b.w > 0 && b.x + b.w <= 24, 'panel fits the 24-column grid');
  const overlaps = boxes.filter((a, i) => boxes.some((b, j) => j > i && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h));
  t.equal(overlaps.length, 0, 'panels do not overlap');

  for (const p of panels.filter((p) => p['type'] !== 'row')) {
    t.equal(p['datasource']?.['uid'], '${DS_PROMETHEUS}', `panel "${p['title']}" uses \${DS_PROMETHEUS}`);
    t.ok((p['targets'] as Obj[]).length > 0, `panel "${p['title']}" has queries`);
    for (const q of p['targets'] as Obj[]) t.equal(q['datasource']?.['uid'], '${DS_PROMETHEUS}', `query ${q['refId']} of "${p['title']}" uses \${DS_PROMETHEUS}`);
  }

  const exprs = collectExprs(dash['panels']);
  const varQueries = vars.flatMap((v) => [v['definition'], v['query']?.['query']]).filter((q): q is string => typeof q === 'string');
  for (const q of varQueries) {
    const m = /label_values\((\w+)/.exec(q);
    if (m) t.ok(known.names.has(m[1]!), `variable query uses a known metric: ${m[1]}`);
  }
  t.ok(exprs.length >= 10, `${exprs.length} queries`);
  for (const e of exprs) {
    t.same(unknownMetrics(e, known), [], `known metrics only: ${e}`);
    t.ok(balanced(e), `balanced: ${e}`);
  }
  const all = exprs.join('\n');
  const wants: [string, RegExp][] = [
    ['traffic by route/status', /sum by \(route, status\) \(rate\(ledgerproxy_requests_total/],
    ['hit ratio', /ledgerproxy_requests_total\{[^}]*cache="hit"[^}]*\}[\s\S]*\/[\s\S]*ledgerproxy_requests_total/],
    ['coalescing ratio', /ledgerproxy_coalesced_calls_total[^\n]*\/[^\n]*ledgerproxy_calls_total/],
    ['upstream p50', /histogram_quantile\(0\.5,[^\n]*ledgerproxy_upstream_request_duration_seconds_bucket/],
    ['upstream p99', /histogram_quantile\(0\.99,[^\n]*ledgerproxy_upstream_request_duration_seconds_bucket/],
    ['upstream errors', /ledgerproxy_upstream_errors_total/],
    ['node health', /ledgerproxy_node_healthy/],
    ['head lag', /ledgerproxy_node_lag/],
    ['cache memory', /ledgerproxy_cache_bytes/],
    ['redis up', /ledgerproxy_redis_up/],
    ['process RSS', /ledgerproxy_process_resident_memory_bytes/],
  ];
  for (const [what, re] of wants) t.match(all, re, `dashboard shows ${what}`);
});

t.test('prometheus alert rules', async (t) => {
  const known = await knownMetrics();
  const rules = parseYaml(read(join(examples, 'prometheus', 'alerts.yml'))) as Obj;
  const list = (rules['groups'] as Obj[]).flatMap((g) => {
    t.ok(g['name'], 'group has a name');
    return g['rules'] as Obj[];
  });
  t.ok(list.length >= 7, `${list.length} rules`);
  const names = list.map((r) => r['alert']);
  t.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const r of list) {
    const name = String(r['alert']);
    t.match(name, /^[A-Z][A-Za-z0-9]+$/, `${name}: alert name`);
    t.type(r['expr'], 'string', `${name}: expr`);
    t.match(String(r['for']), /^\d+[smh]$/, `${name}: for`);
    t.ok(['critical', 'warning', 'info'].includes(r['labels']?.['severity']), `${name}: severity label`);
    t.ok(String(r['annotations']?.['summary'] ?? '').length > 10, `${name}: summary`);
    t.ok(String(r['annotations']?.['description'] ?? '').length > 20, `${name}: description`);
    t.same(unknownMetrics(String(r['expr']), known), [], `${name}: known metrics only`);
    t.ok(balanced(String(r['expr'])), `${name}: balanced expression`);
  }
  const find = (re: RegExp) => list.filter((r) => re.test(String(r['expr'])));
  const wants: [string, RegExp, string?][] = [
    ['high 5xx rate', /ledgerproxy_requests_total\{status=~?"5[^"]*"\}/],
    ['low hit ratio', /cache="hit"[\s\S]*\)\s*<\s*0?\.\d+/],
    ['node down', /^ledgerproxy_node_healthy == 0$/, '2m'],
    ['node lagging', /ledgerproxy_node_lag(\{[^}]*\})? > \d+/, '5m'],
    ['redis down', /^ledgerproxy_redis_up == 0$/],
    ['memory high', /ledgerproxy_process_resident_memory_bytes > /],
    ['proxy down', /^up(\{[^}]*\})? == 0$/],
  ];
  for (const [what, re, forValue] of wants) {
    const hits = find(re);
    t.ok(hits.length >= 1, `an alert for ${what}`);
    if (forValue) t.ok(hits.every((r) => r['for'] === forValue), `${what}: for ${forValue}`);
  }
  // the `up` rule selects the job that prometheus.yml scrapes
  const prom = parseYaml(read(join(examples, 'prometheus', 'prometheus.yml'))) as Obj;
  const jobs = (prom['scrape_configs'] as Obj[]).map((j) => j['job_name']);
  for (const r of find(/^up\{/)) {
    const job = /job="([^"]+)"/.exec(String(r['expr']))?.[1];
    t.ok(job && jobs.includes(job), `up{job="${job}"} is a scrape job in prometheus.yml`);
  }
});

// ---------------------------------------------------------------------------------------------

function globToRegExp(pattern: string): RegExp {
  const p = pattern.replace(/^\/+|\/+$/g, '');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*' && p[i + 1] === '*') {
      re += '.*';
      i++;
      if (p[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(/.*)?$`);
}

t.test('Dockerfile and .dockerignore', async (t) => {
  const file = join(repo, 'Dockerfile');
  t.ok(existsSync(file), 'Dockerfile exists');
  const stages = dockerStages(read(file));
  t.ok(stages.length >= 2, 'multi-stage');
  for (const s of stages) t.match(s[0]!.args, /^node:(22|24)-bookworm-slim(@sha256:[0-9a-f]{64})?(\s+AS\s+\w+)?$/i, `stage base ${s[0]!.args}`);
  const build = stages[0]!;
  const runtime = stages[stages.length - 1]!;
  const runs = (stage: Instruction[]) => stage.filter((i) => i.op === 'RUN').map((i) => i.args);
  t.ok(runs(build).some((r) => /\bnpm ci\b/.test(r)), 'build stage: npm ci');
  t.ok(runs(build).some((r) => /\bnpm run build\b/.test(r)), 'build stage: npm run build');
  t.ok(runs(runtime).some((r) => /\bnpm ci\b[^&;]*--omit=dev/.test(r)), 'runtime stage: npm ci --omit=dev');
  t.notOk(runs(runtime).some((r) => /npm run build|npm install\b/.test(r)), 'runtime stage does not build or npm install');
  t.ok(runtime.some((i) => i.op === 'COPY' && /--from=\w+/.test(i.args) && /\bdist\b/.test(i.args)), 'runtime copies dist/ from the build stage');
  t.ok(runtime.some((i) => i.op === 'COPY' && /^proxy\.config\.yaml\s+\/etc\/ledgerproxy\/(proxy\.config\.yaml)?$/.test(i.args)), 'default config copied to /etc/ledgerproxy');

  const users = runtime.filter((i) => i.op === 'USER');
  t.equal(users.length >= 1, true, 'runtime stage sets USER');
  const user = users[users.length - 1]?.args.split(':')[0] ?? 'root';
  t.notOk(['root', '0', ''].includes(user), `runs as non-root (${user})`);
  const entryIdx = runtime.findIndex((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD');
  t.ok(runtime.indexOf(users[users.length - 1]!) < entryIdx, 'USER comes before the entrypoint');

  const expose = runtime.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => p.replace(/\/tcp$/, ''));
  t.ok(expose.includes('8080') && expose.includes('9090'), `EXPOSE 8080 9090 (${expose.join(' ')})`);

  const hc = runtime.find((i) => i.op === 'HEALTHCHECK');
  t.ok(hc, 'HEALTHCHECK');
  const hcCmd = /\bCMD\s+(\[[\s\S]*\])\s*$/.exec(hc?.args ?? '')?.[1] ?? '';
  t.ok(isExecForm(hcCmd), 'HEALTHCHECK CMD in exec form');
  t.match(hcCmd, /fetch\(/, 'HEALTHCHECK uses node fetch');
  t.match(hcCmd, /127\.0\.0\.1/, 'HEALTHCHECK on loopback');
  t.match(hcCmd, /\/healthz/, 'HEALTHCHECK on /healthz');
  t.match(hcCmd, /9090/, 'HEALTHCHECK defaults to the admin port 9090');
  t.notMatch(hcCmd, /\bcurl\b|\bwget\b/, 'no curl/wget in slim images');

  t.equal(runtime.find((i) => i.op === 'STOPSIGNAL')?.args, 'SIGTERM', 'STOPSIGNAL SIGTERM');
  const entry = runtime.filter((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD');
  t.ok(entry.length >= 1, 'ENTRYPOINT or CMD');
  for (const e of entry) t.ok(isExecForm(e.args), `${e.op} in exec form: ${e.args}`);
  t.match(entry.map((e) => e.args).join(' '), /"node",\s*"[^"]*dist\/src\/main\.js"/, 'runs node dist/src/main.js directly (not npm start)');

  t.equal(imageEnv['LEDGERPROXY_CONFIG'], '/etc/ledgerproxy/proxy.config.yaml');
  t.equal(imageEnv['LEDGERPROXY_LISTEN'], '0.0.0.0:8080');
  t.equal(imageEnv['LEDGERPROXY_ADMIN'], '0.0.0.0:9090');

  const ignore = read(join(repo, '.dockerignore'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const must of ['node_modules', 'dist', '.git', '.tap', 'coverage', 'bench/.out']) {
    t.ok(ignore.some((p) => !p.startsWith('!') && globToRegExp(p).test(must)), `.dockerignore excludes ${must}`);
  }
  const excluded = (path: string) => {
    let out = false;
    for (const p of ignore) {
      if (p.startsWith('!')) {
        if (globToRegExp(p.slice(1)).test(path)) out = false;
      } else if (globToRegExp(p).test(path)) out = true;
    }
    return out;
  };
  t.ok(excluded('node_modules/x/index.js') && !excluded('src/main.ts'), 'glob matcher sanity');
  for (const keep of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/main.ts', 'proxy.config.yaml']) {
    t.notOk(excluded(keep), `.dockerignore keeps ${keep} (the build needs it)`);
  }
});
