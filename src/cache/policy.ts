// What may be stored, and the one place an answer is compressed and written to the cache.
// DESIGN.md "Never cache": error statuses, JSON-RPC error objects, pending transactions, null
// by-hash results (the dialect's isCacheable says those), anything from a write (no key), answers
// with Set-Cookie, bodies over the configured cap.
import { crc32 } from 'node:zlib';
import type { Config } from '../config/schema.js';
import type { Answer, CallPlan } from '../runtime/types.js';
import { ownedCopy } from '../buffers.js';
import { compressSegment } from '../response/gzip-splice.js';
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

export function makeStoreAnswer(cache: TieredStore, config: Config['cache']): (plan: CallPlan, answer: Answer) => Answer {
  return (plan, answer) => {
    if (!plan.store || plan.key === undefined || !answer.cacheable) return answer;
    // Fetched from before an /admin/purge that covers it: served to its callers, never stored.
    if (!cache.mayStore(plan, plan.key)) return answer;
    const now = Date.now();
    // Stored bodies own their memory (an identity body may be a slice of a whole batch answer).
    // A body too short to compress keeps the CRC its identity entry already has.
    const raw = answer.entry.body;
    const segment = raw.length < config.compression.minBytes
      ? { body: raw, compressed: false, crc32: answer.entry.crc32, rawLength: raw.length }
      : compressSegment(raw, config.compression);
    if (!segment.compressed) segment.body = ownedCopy(segment.body);
    const expiresAt = now + Math.min(plan.ttlMs, answer.ttlMs ?? Infinity);
    // Kept past its life only when the route may serve it stale.
    const staleUntil = expiresAt + Math.max(plan.staleIfErrorMs, plan.staleWhileRevalidateMs);
    // One literal for every stored entry (see stored-entry.ts): a spread gave each its own hidden class.
    const entry = storedEntry(answer.entry, segment, now, expiresAt, staleUntil);
    void cache.set(plan.key, entry);
    return { ...answer, entry };
  };
}
