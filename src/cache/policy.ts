// What may be stored, and the one place an answer is compressed and written to the cache.
// DESIGN.md "Never cache": error statuses, JSON-RPC error objects, pending transactions, null
// by-hash results (the dialect's isCacheable says those), anything from a write (no key), answers
// with Set-Cookie, bodies over the configured cap.
import type { Config } from '../config/schema.js';
import type { Answer, CallPlan } from '../runtime/types.js';
import { ownedCopy } from '../buffers.js';
import { compressSegment, CRC_UNKNOWN } from '../response/gzip-splice.js';
import { storedEntry, storedInPlace } from './stored-entry.js';
import type { TieredStore } from './tiered-store.js';
import type { CacheEntry } from './types.js';

export function baseCacheable(status: number, headers: Record<string, string | string[] | undefined>, size: number, maxEntryBytes: number): boolean {
  return status === 200 && headers['set-cookie'] === undefined && size <= maxEntryBytes;
}

/**
 * An answer as the fetchers build it: identity body, not stored yet. Its fields are those of a
 * stored entry, in the same order (staleUntil too, unset), so that storing it uncompressed can
 * fill it in place (stored-entry.ts storedInPlace) and every entry still has one hidden class.
 * Its CRC is left for its first reader (gzip-splice.ts segmentCrc32): most answers never need one.
 */
export function identityEntry(status: number, headers: ReadonlyArray<readonly [string, string]>, body: Buffer, now: number): CacheEntry {
  return { status, headers, body, compressed: false, crc32: CRC_UNKNOWN, rawLength: body.length, storedAt: now, expiresAt: now, staleUntil: undefined };
}

/**
 * The answer as its callers and followers share it: the fetcher's own answer object (made for this
 * one call) with its identity entry replaced by the stored one. The stored entry is filled once,
 * field by field: no spreads of the entry, the segment or the answer per stored call.
 */
export function makeStoreAnswer(cache: TieredStore, config: Config['cache']): (plan: CallPlan, answer: Answer) => Answer {
  const { compression } = config;
  return (plan, answer) => {
    if (!plan.store || plan.key === undefined || !answer.cacheable) return answer;
    // Fetched from before an /admin/purge that covers it: served to its callers, never stored.
    if (!cache.mayStore(plan, plan.key)) return answer;
    const now = Date.now();
    const fetched = answer.entry;
    const raw = fetched.body;
    // A body too short to compress keeps its identity entry's CRC (unknown until first read).
    const segment = raw.length < compression.minBytes ? undefined : compressSegment(raw, compression);
    const expiresAt = now + Math.min(plan.ttlMs, answer.ttlMs ?? Infinity);
    // Kept past its life only when the route may serve it stale.
    const staleUntil = expiresAt + Math.max(plan.staleIfErrorMs, plan.staleWhileRevalidateMs);
    // Stored bodies own their memory (an identity body may be a slice of a whole batch answer).
    // Uncompressed, the fetcher's identity entry (made for this one answer, seen by no one yet)
    // becomes the stored one in place: no segment and no second entry per stored call. One
    // literal for every other stored entry (see stored-entry.ts): a spread gave each its own class.
    const entry =
      segment?.compressed === true
        ? storedEntry(fetched, segment, now, expiresAt, staleUntil)
        : storedInPlace(fetched, ownedCopy(raw), segment === undefined ? fetched.crc32 : segment.crc32, now, expiresAt, staleUntil);
    cache.fill(plan.key, entry);
    answer.entry = entry;
    return answer;
  };
}
