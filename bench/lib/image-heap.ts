// The V8 heap setting the Docker image ships, read from the Dockerfile's NODE_OPTIONS, so that the
// bench runs the proxy the way the image does and cannot drift from it (scenario e judges RSS with it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the image was built with when the Dockerfile cannot be read (kept for a copy of bench/ alone). */
const FALLBACK = '--max-old-space-size=192';

export interface ImageNodeOptions {
  /** e.g. "--max-old-space-size=192" */
  value: string;
  /** "Dockerfile" or "fallback (…)" */
  source: string;
}

let cached: ImageNodeOptions | undefined;

export function imageNodeOptions(root: string): ImageNodeOptions {
  if (cached) return cached;
  try {
    const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
    // ENV NODE_OPTIONS=--a or NODE_OPTIONS="--a --b", possibly inside a multi-line ENV.
    const m = /\bNODE_OPTIONS=(?:"([^"]*)"|'([^']*)'|([^\s\\]+))/.exec(text);
    const value = (m?.[1] ?? m?.[2] ?? m?.[3])?.trim();
    cached = value ? { value, source: 'Dockerfile' } : { value: FALLBACK, source: 'fallback (no NODE_OPTIONS in the Dockerfile)' };
  } catch {
    cached = { value: FALLBACK, source: 'fallback (no Dockerfile)' };
  }
  return cached;
}
