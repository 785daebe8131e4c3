// Config loading: read the file, parse YAML keeping positions, interpolate ${ENV}, apply the
// environment overrides, validate against the schema (defaults come from there), check what spans
// several keys, freeze. Every error names the key path and, where the file has it, the line.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { interpolateEnv } from './env.js';
import { crossCheck } from './cross-check.js';

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid config\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type PathPart = string | number;

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseConfigText(text, file, env);
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0] ?? e.message}`));
  }
  const locate = (path: PathPart[]) => lineOf(doc, lines, path);
  const raw: unknown = doc.toJS() ?? {};
  const envProblems: string[] = [];
  const interpolated = interpolateEnv(raw, env, (path, name) =>
    envProblems.push(`${formatPath(path)}${locate(path)}: environment variable ${name} is not set`),
  );
  if (envProblems.length > 0) throw new ConfigError(source, envProblems);
  applyEnvOverrides(interpolated, env);
  return validateConfig(interpolated, source, locate);
}

export function validateConfig(raw: unknown, source: string, locate: (p: PathPart[]) => string = () => ''): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(source, result.error.issues.map((issue) => formatIssue(issue, locate)));
  }
  const problems = crossCheck(result.data).map((p) => `${formatPath(p.path)}${locate(p.path)}: ${p.message}`);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return deepFreeze(result.data);
}

function formatIssue(issue: z.core.$ZodIssue, locate: (p: PathPart[]) => string): string {
  const path = issue.path.filter((p): p is PathPart => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${formatPath([...path, k])}${locate([...path, k])}: unknown key`).join('\n  ');
  }
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) {
    return `${formatPath(path)}${locate(path.slice(0, -1))}: required`;
  }
  return `${formatPath(path)}${locate(path)}: ${issue.message}`;
}

export function formatPath(path: readonly PathPart[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

/** " (line N)" for the key at path, or the nearest ancestor the document has. */
function lineOf(doc: Document, lines: LineCounter, path: PathPart[]): string {
  for (let n = path.length; n > 0; n--) {
    const parent = n > 1 ? doc.getIn(path.slice(0, n - 1), true) : doc.contents;
    const last = path[n - 1];
    const offset = isMap(parent) ? keyOffset(parent.items, last) : nodeOffset(doc.getIn(path.slice(0, n), true));
    if (offset !== undefined) return ` (line ${lines.linePos(offset).line})`;
  }
  return '';
}

function keyOffset(items: unknown[], key: PathPart | undefined): number | undefined {
  for (const item of items) {
    if (isPair(item) && isScalar(item.key) && item.key.value === key) return item.key.range?.[0];
  }
  return undefined;
}

function nodeOffset(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return range?.[0];
}

/** Environment overrides for what differs per deployment more than per config file. */
function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): void {
  if (typeof raw !== 'object' || raw === null) return;
  const root = raw as Record<string, unknown>;
  const section = (name: string): Record<string, unknown> => {
    const existing = root[name];
    if (typeof existing === 'object' && existing !== null) return existing as Record<string, unknown>;
    const created: Record<string, unknown> = {};
    root[name] = created;
    return created;
  };
  if (env['LEDGERPROXY_LISTEN']) section('server')['listen'] = env['LEDGERPROXY_LISTEN'];
  if (env['LEDGERPROXY_ADMIN']) section('server')['admin'] = env['LEDGERPROXY_ADMIN'];
  if (env['LOG_LEVEL']) section('log')['level'] = env['LOG_LEVEL'];
  if (env['LEDGERPROXY_REDIS_URL']) {
    const cache = section('cache');
    const redis = (cache['redis'] as Record<string, unknown> | undefined) ?? {};
    cache['redis'] = { ...redis, url: env['LEDGERPROXY_REDIS_URL'] };
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
