// What may be stored, and the one place an answer is compressed and written to the cache.
// DESIGN.md "Never cache": error statuses, JSON-RPC error objects, pending transactions, null
// by-hash results (the dialect's isCacheable says those), anything from a write (no key), answers
// with Set-Cookie, bodies over the configured cap.
import { crc32 } from 'node:zlib';
import type { Config } from '../config/schema.js';
import type { Answer, CallPlan } from '../runtime/types.js';
import { ownedCopy } from '../buffers.js';
import { compressSegment, type Segment } from '../response/gzip-splice.js';
import { storedEntry } from './stored-entry.js';
import type { TieredStore } from './tiered-store.js';
import type { CacheEntry } from './types.js';

export function baseCacheable(status: number, headers: Record<string, string | string[] | undefined>, size: number, maxEntryBytes: number): boolean {
  return status === 200 && headers['set-cookie'] === undefined && size <= maxEntryBytes;
}

/** An answer as the fetchers build it: identity body, not stored yet. */
export function identityEntry(status: number, headers: ReadonlyArray<readonly [string, string]>, body: Buffer, now: number): CacheEntry {
  return { status, headers, body, compressed: false, crc32: crc32(body), rawLength: body.length, storedAt: now, expiresAt: now };
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
    // A body too short to compress keeps the CRC its identity entry already has.
    const segment = raw.length < compression.minBytes ? undefined : compressSegment(raw, compression);
    const compressed = segment?.compressed === true;
    const expiresAt = now + Math.min(plan.ttlMs, answer.ttlMs ?? Infinity);
    // Kept past its life only when the route may serve it stale.
    const staleUntil = expiresAt + Math.max(plan.staleIfErrorMs, plan.staleWhileRevalidateMs);
    // Stored bodies own their memory (an identity body may be a slice of a whole batch answer).
    const stored: Segment = compressed
      ? (segment as Segment)
      : { body: ownedCopy(raw), compressed: false, crc32: segment === undefined ? fetched.crc32 : segment.crc32, rawLength: raw.length };
    // One literal for every stored entry (see stored-entry.ts): a spread gave each its own hidden class.
    const entry = storedEntry(fetched, stored, now, expiresAt, staleUntil);
    cache.fill(plan.key, entry);
    answer.entry = entry;
    return answer;
  };
}
