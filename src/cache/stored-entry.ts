// How a stored answer is laid out in memory. An L1 entry lives for minutes among tens of thousands of
// others, so the few hundred bytes of JavaScript objects around its body are what decide how much
// heap (and, through V8's heap growth, RSS) a byte bound on the cache really costs. Measured in a
// heap snapshot after scenario e (23,720 entries at maxBytes 64 MiB), per entry:
// - built with `{ ...answer.entry, ...segment, ... }`, every entry got a hidden class of its own (a
//   Map and a DescriptorArray, 336 bytes): V8 copies the map when it clones an object whose fields
//   changed representation (crc32 is a small integer or not). It also sent every load of an entry
//   field megamorphic. One object literal with every field in one order gives all entries one class.
// - eight header pairs are nine arrays (770 bytes before the strings). Answers filled while a node
//   stood at the same block carry identical headers (Aptos: the x-aptos-* ledger headers; JSON-RPC:
//   content-type alone), so entries share one header set instead of each holding a copy.
import type { Segment } from '../response/gzip-splice.js';
import type { CacheEntry } from './types.js';

type HeaderSet = CacheEntry['headers'];

/** How many distinct header sets are remembered for sharing (most recently used first). */
const RECENT_SETS = 16;
const NO_HEADERS: HeaderSet = Object.freeze([]);
const recent: HeaderSet[] = [];

/** The entry a fill stores: the answer's status and headers, the segment as body, its lifetimes. */
export function storedEntry(answer: CacheEntry, segment: Segment, storedAt: number, expiresAt: number, staleUntil: number): CacheEntry {
  return {
    status: answer.status,
    headers: sharedHeaders(answer.headers),
    body: segment.body,
    compressed: segment.compressed,
    crc32: segment.crc32,
    rawLength: segment.rawLength,
    storedAt,
    expiresAt,
    staleUntil,
  };
}

/**
 * An identity entry (cache/policy.ts identityEntry: the same fields in the same order) made the
 * stored entry with this body: for an answer stored uncompressed, whose fetcher made the entry for
 * it alone. Its status, compressed (false) and rawLength stay as they are.
 */
export function storedInPlace(identity: CacheEntry, body: Buffer, crc32: number, storedAt: number, expiresAt: number, staleUntil: number): CacheEntry {
  identity.headers = sharedHeaders(identity.headers);
  identity.body = body;
  identity.crc32 = crc32;
  identity.storedAt = storedAt;
  identity.expiresAt = expiresAt;
  identity.staleUntil = staleUntil;
  return identity;
}

/**
 * An equal header set seen recently, or this one (remembered for the next). Sets are never mutated
 * (CacheEntry.headers is read-only everywhere), so sharing one among entries is invisible. A short
 * list compared pair by pair, not a map keyed by the joined text: no allocation per fill, and two
 * sets of different blocks differ in their first x-aptos-* pair.
 */
export function sharedHeaders(headers: HeaderSet): HeaderSet {
  if (headers.length === 0) return NO_HEADERS;
  for (let i = 0; i < recent.length; i++) {
    const known = recent[i] as HeaderSet;
    if (!sameHeaders(known, headers)) continue;
    if (i > 0) {
      recent.splice(i, 1);
      recent.unshift(known);
    }
    return known;
  }
  if (recent.length >= RECENT_SETS) recent.pop();
  recent.unshift(headers);
  return headers;
}

function sameHeaders(a: HeaderSet, b: HeaderSet): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const p = a[i] as readonly [string, string];
    const q = b[i] as readonly [string, string];
    if (p[1] !== q[1] || p[0] !== q[0]) return false;
  }
  return true;
}
