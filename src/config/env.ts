// ${NAME} and ${NAME:-default} in string values are replaced from the environment, after YAML
// parsing, so a secret can never change the structure of the document (no YAML injection).
type PathPart = string | number;

const pattern = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  onMissing: (path: PathPart[], name: string) => void,
  path: PathPart[] = [],
): unknown {
  if (typeof value === 'string') return interpolateString(value, env, (name) => onMissing(path, name));
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, onMissing, [...path, i]));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, onMissing, [...path, k]);
    return out;
  }
  return value;
}

function interpolateString(s: string, env: NodeJS.ProcessEnv, onMissing: (name: string) => void): string {
  return s.replace(pattern, (_match, name: string, fallback: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    onMissing(name);
    return '';
  });
}
