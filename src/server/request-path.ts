// One normalised request path, computed once, before the route is chosen: the route matches it,
// the dialect plans on it and the pass-through forwards it. Routing on one spelling and forwarding
// another is how `/v1/../admin/secret` used to reach the node as `/admin/secret` (issue 14 #4).
//
// Rules (RFC 3986 §5.2.4 and §6.2.2): `%2e`/`%2E` is decoded to `.` (it is unreserved: the same
// character); dot segments are then removed. A path that would climb above the root, an encoded
// slash or backslash (`%2f`, `%5c`), a raw backslash, NUL (raw or `%00`) or a target that is not in
// origin-form (`/...`) is refused: there is no single meaning to forward for those, and every
// server in the chain may decode them differently. Every other percent-escape is forwarded as the
// client wrote it.
import { BadPathError } from '../errors.js';

export interface RequestTarget {
  /** Normalised path: starts with `/`, no dot segments. */
  path: string;
  /** Raw query, without the `?` ('' when none). */
  query: string;
}

const refusedEscape = /%(?:2f|5c|00)/i;

export function normaliseTarget(url: string | undefined): RequestTarget {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  return { path: normalisePath(rawPath), query };
}

export function normalisePath(rawPath: string): string {
  if (!rawPath.startsWith('/')) throw new BadPathError('the request target must be a path starting with /');
  if (rawPath.includes('\\') || rawPath.includes('\0')) throw new BadPathError('backslash or NUL in the request path');
  if (refusedEscape.test(rawPath)) throw new BadPathError('encoded slash, backslash or NUL in the request path');
  // Fast path: nothing that could be a dot segment.
  if (!rawPath.includes('.') && !rawPath.includes('%')) return rawPath;
  const decodedDots = rawPath.replace(/%2e/gi, '.');
  if (!/(^|\/)\.\.?(\/|$)/.test(decodedDots)) return decodedDots;
  return removeDotSegments(decodedDots);
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      if (out.length === 0) throw new BadPathError('the request path climbs above the root');
      out.pop();
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  });
  return `/${out.join('/')}`;
}
