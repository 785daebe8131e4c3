// The "observe answers" stage: what the answers of one request show their client as committed or
// as the head raises the group's read-your-writes floor, before the reply is written — so the
// client's next request, wherever it lands, is answered for at least that version. Every answer
// counts, whatever it came from: fresh, coalesced, cache hit (L1 or Redis), stale, batch items, and
// pass-through answers as far as the proxy sees them (headers only). A fresh answer that names a
// version also confirms the group head and moves the answering node's head up to it. Writes start
// a burst of head polls, so the head they move is seen at once.
//
// Cost on a hit: the version an entry shows is computed once per entry object and remembered on it
// under a private symbol (entries are immutable; a WeakMap entry per stored answer cost the GC an
// ephemeron each), so a repeated hit costs one property read. A fresh answer that shows nothing
// (most of them: an eth_call, a balance) is not marked: most entries are never hit, and the mark
// cost every one of them a property added; its first hit computes and keeps it. The dialect reads
// each answer through one reused view (AnswerView), not an object per call.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { CacheEntry } from '../cache/types.js';
import { movesHead } from '../dialects/seen-versions.js';
import type { Call, CallAnswer } from '../dialects/types.js';
import type { CallResult } from '../runtime/types.js';
import { inflateSegment } from '../response/gzip-splice.js';
import type { GroupRuntime } from '../runtime/runtime.js';
import type { UpstreamNode } from '../upstream/node.js';

/** Entry → the version it shows (null: none). */
const SHOWN = Symbol('versionShown');
/** Entry → whether its headers name the answering node's head (see fresh()). */
const NAMES_HEAD = Symbol('namesNodeHead');
type Memo = CacheEntry & { [SHOWN]?: bigint | null; [NAMES_HEAD]?: boolean };
const shown = {
  get: (entry: CacheEntry): bigint | null | undefined => (entry as Memo)[SHOWN],
  set: (entry: CacheEntry, version: bigint | null): void => {
    (entry as Memo)[SHOWN] = version;
  },
};

/** Entry → the head poll of its node that its reply waits for (see headOfAnsweringNode). */
const asking = new WeakMap<CacheEntry, Promise<void>>();

/**
 * After the call steps, before writing. `now` is performance.now(). Returns a promise to wait for
 * before replying when an answer showed a committed transaction without naming its block.
 */
export function observeAnswers(group: GroupRuntime, calls: readonly Call[], results: readonly CallResult[], now: number): Promise<unknown> | undefined {
  let wrote = false;
  let waits: Promise<void>[] | undefined;
  for (let i = 0; i < results.length; i++) {
    const result = results[i];
    const call = calls[i];
    if (call !== undefined && movesHead(call)) wrote = true;
    if (!result || !call || result.cache === 'error') continue;
    const { entry, node } = result.answer;
    const fetched = result.cache === 'miss' || result.cache === 'bypass';
    const version = versionShown(group, call, entry, result.cache === 'bypass', result.answer.rpcError === true, fetched);
    if (node !== undefined && (version !== undefined || fresh(group, entry, fetched))) group.floor.confirm(now);
    const wait = asking.get(entry) ?? (version === undefined && node !== undefined ? headOfAnsweringNode(group, call, entry, node, result.answer.rpcError === true, now) : undefined);
    if (wait) (waits ??= []).push(wait);
    if (version === undefined) continue;
    group.floor.raise(version);
    if (node !== undefined) nodeNamed(group, node)?.noteHead(version, Date.now());
  }
  if (wrote) group.heads.afterWrite();
  return waits && Promise.all(waits);
}

/**
 * A fresh answer that shows a transaction as mined but names no block (Neo's getrawtransaction and
 * getapplicationlog): the client will next read "latest" expecting that block, which the proxy may
 * not know yet. The node that answered has it, so its head is polled (a request sent after the
 * answer) and the floor raised to it before the reply goes out. Costs one light poll per such fresh
 * answer; a coalesced follower or a hit arriving meanwhile waits for the same poll.
 */
function headOfAnsweringNode(group: GroupRuntime, call: Call, entry: CacheEntry, nodeName: string, rpcError: boolean, seenAt: number): Promise<void> | undefined {
  if (group.dialect.minedWithoutHeight?.(call, view.of(entry, rpcError)) !== true) return undefined;
  const node = nodeNamed(group, nodeName);
  if (node === undefined) return undefined;
  const wait = group.heads.pollAfter(node, seenAt).then(() => {
    if (node.head !== undefined) group.floor.raise(node.head);
  }).finally(() => asking.delete(entry));
  asking.set(entry, wait);
  return wait;
}

/** The group's node of that name: a loop, not a closure per answer that names a version. */
function nodeNamed(group: GroupRuntime, name: string): UpstreamNode | undefined {
  const all = group.set.all;
  for (let i = 0; i < all.length; i++) if ((all[i] as UpstreamNode).name === name) return all[i];
  return undefined;
}

/** An L1 hit answered without a plan (hit-shortcut.ts): only an entry already observed can count. */
export function observeRemembered(group: GroupRuntime, entry: CacheEntry): void {
  const version = shown.get(entry);
  if (version !== undefined && version !== null) group.floor.raise(version);
}

/** A streamed answer: its headers are all the proxy sees; a write starts the poll burst. */
export function observePassThrough(group: GroupRuntime, write: boolean, headers: OutgoingHttpHeaders): void {
  const version = group.dialect.nodeFacts(headers as IncomingHttpHeaders).head;
  if (version !== undefined) group.floor.raise(version);
  if (write) group.heads.afterWrite();
}

/**
 * fetched: the entry was just made from a node's answer (miss, bypass): no mark to look for (a
 * missing property read costs more than the dialect's look at an eth_call), and none is added
 * when it shows nothing (see the file comment). Otherwise the mark is read, or made.
 */
function versionShown(group: GroupRuntime, call: Call, entry: CacheEntry, passedUnchanged: boolean, rpcError: boolean, fetched: boolean): bigint | undefined {
  if (!fetched) {
    const known = shown.get(entry);
    if (known !== undefined) return known ?? undefined;
  }
  const answer = view.of(entry, rpcError);
  let version = group.dialect.observe(call, answer);
  // A header the node meant as its head, passed on as it came (not a snapshot the proxy chose).
  if (passedUnchanged) version = max(version, group.dialect.nodeFacts(answer.headers).head);
  if (version !== undefined) shown.set(entry, version);
  else if (!fetched) shown.set(entry, null);
  return version;
}

/**
 * A fresh answer whose headers reveal the node's head (Aptos) confirms the group head too. What the
 * headers say is worked out once per entry and kept on it (entries never change): a herd's 500
 * followers share one entry, and each re-made the header record and asked the dialect again. The
 * confirmation itself still happens for every answer that carries it. A fetched entry (miss,
 * bypass) is not marked, for the reason versionShown gives: most are never shared or hit.
 */
function fresh(group: GroupRuntime, entry: CacheEntry, fetched: boolean): boolean {
  const memo = entry as Memo;
  const known = memo[NAMES_HEAD];
  if (known !== undefined) return known;
  const names = entry.headers.length > 0 && group.dialect.nodeFacts(headerRecord(entry)).head !== undefined;
  if (!fetched) memo[NAMES_HEAD] = names;
  return names;
}

/**
 * An entry as the dialect's CallAnswer, headers and body made only when read (decompressed only
 * for the few calls whose body the dialect reads). One view serves every answer in turn: the
 * dialect's observe functions are pure and synchronous, they never keep the answer.
 */
class AnswerView implements CallAnswer {
  status = 0;
  rpcError = false;
  private entry: CacheEntry | undefined;
  private headerMemo: Record<string, string> | undefined;
  private bodyMemo: Buffer | undefined;

  of(entry: CacheEntry, rpcError: boolean): this {
    this.entry = entry;
    this.status = entry.status;
    this.rpcError = rpcError;
    this.headerMemo = undefined;
    this.bodyMemo = undefined;
    return this;
  }

  get headers(): Record<string, string> {
    return (this.headerMemo ??= headerRecord(this.current()));
  }

  get body(): Buffer {
    const entry = this.current();
    return (this.bodyMemo ??= entry.compressed ? inflateSegment(entry.body) : entry.body);
  }

  private current(): CacheEntry {
    if (this.entry === undefined) throw new Error('answer view read before of()');
    return this.entry;
  }
}

const view = new AnswerView();

/**
 * The entry's headers as a record. Entries filled at one block share one header set (see
 * cache/stored-entry.ts), so the last set's record is kept and given again for the same set: the
 * dialect reads it and never changes it (its observe functions are pure), and sets are immutable.
 */
function headerRecord(entry: CacheEntry): Record<string, string> {
  if (entry.headers === lastRecord.set) return lastRecord.record;
  const out: Record<string, string> = {};
  for (const [name, value] of entry.headers) out[name] = value;
  lastRecord = { set: entry.headers, record: out };
  return out;
}

let lastRecord: { set: CacheEntry['headers'] | undefined; record: Record<string, string> } = { set: undefined, record: {} };

function max(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  return b === undefined || a >= b ? a : b;
}
