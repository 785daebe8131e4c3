// Cache keys: a readable prefix that admin purges can target (`group:callName:`), then a short hash
// of everything that decides the answer. Key material can be kilobytes of canonical JSON; hashing it
// keeps Redis keys and L1 map keys small and bounded.
import { hash } from 'node:crypto';

export interface KeyParts {
  /** Upstream group name from the config. */
  group: string;
  /** The dialect's bounded call label ('eth_call', 'view', 'other', ...). */
  callName: string;
  /** Canonical request material without the version and the JSON-RPC id (see Call.keyMaterial). */
  keyMaterial: string;
  /** The head a head read was resolved to; absent for reads pinned by their own material. */
  version?: bigint | number | string | undefined;
  /**
   * The chain as its nodes state it (EVM chain id, Aptos chain_id, Neo network magic), see
   * chain-identity.ts. Part of the hash, so two fleets sharing one Redis with a group of the same
   * name on different chains never meet. Undefined while the group cannot tell its chain yet: the
   * key is then marked local-only and never read from or written to the shared tier.
   */
  chain?: string | undefined;
}

/** Marks the hash of a key that must stay in L1 (its chain is not known yet). */
const LOCAL_ONLY = '~';

/** 22 base64url chars = 132 bits: collisions are out of reach for any cache size. */
const HASH_CHARS = 22;

/**
 * The format of the hashed text. Bump it whenever the text a key is hashed from changes: keys of
 * the old format (in a shared Redis, from a fleet still running it) must never meet new ones.
 * k2: fields framed by their length in UTF-16 code units (k1, unmarked: UTF-8 byte lengths).
 */
const FORMAT = 'k2';

export function cacheKey(parts: KeyParts): string {
  return cacheKeyOf(parts.group, parts.callName, parts.keyMaterial, parts.version, parts.chain);
}

/** cacheKey with the parts as arguments (no KeyParts object per call). */
export function cacheKeyOf(group: string, callName: string, keyMaterial: string, version: KeyParts['version'], chain: string | undefined): string {
  // Length-prefixed fields: ('a:b', 'c') and ('a', 'b:c') must not hash alike, whatever the
  // fields contain. Code-unit lengths frame the string as unambiguously as byte lengths (the
  // hash reads the whole string as UTF-8) and cost no encoding pass. The version is tagged so
  // "no version" differs from an empty one. One string, one one-shot hash (no Hash object): this
  // runs for every call, 20 times for a batch of 20. The framed text of the group and call name,
  // and of the version and chain, is made once and reused (see framedHead, framedTail): the text
  // hashed is the same, only fewer strings are built to make it.
  const head = framedHead(group, callName);
  const text = `${head.text}${keyMaterial.length}:${keyMaterial}${framedTail(version, chain)}`;
  return keyText(head, chain === undefined, hash('sha256', text, 'base64url'));
}

/**
 * `<prefix>[~]<first HASH_CHARS of digest>` as one flat string. Concatenated, a key was a cons
 * string over a slice of the whole digest (three heap objects): every key lives as long as its
 * entry, so an L1 full of them was three objects an entry for the GC to copy and mark.
 */
function keyText(head: FramedHead, localOnly: boolean, digest: string): string {
  const bytes = head.keyBytes;
  if (bytes === undefined) return localOnly ? `${head.prefix}${LOCAL_ONLY}${digest.slice(0, HASH_CHARS)}` : head.prefix + digest.slice(0, HASH_CHARS);
  let at = head.prefix.length;
  if (localOnly) bytes[at++] = LOCAL_ONLY_BYTE;
  // base64url is ASCII: one byte a character.
  bytes.write(digest, at, HASH_CHARS, 'latin1');
  return bytes.toString('latin1', 0, at + HASH_CHARS);
}

interface FramedHead {
  /** `k2|<len>:<group><len>:<callName>`: the start of the hashed text. */
  text: string;
  /** `<group>:<callName>:`: the readable start of the key. */
  prefix: string;
  /**
   * The prefix as latin1 bytes with room for the rest of a key (see keyText); undefined when the
   * prefix has a character latin1 cannot hold (a group name in another script).
   */
  keyBytes: Buffer | undefined;
}

/**
 * Per group, per call name. Both are bounded (config groups; a dialect's call labels, 'other' for
 * any unknown method), the bound below only guards against a dialect that would not be.
 */
const heads = new Map<string, Map<string, FramedHead>>();
const MAX_HEADS = 4096;
let headCount = 0;

function framedHead(group: string, callName: string): FramedHead {
  let byCall = heads.get(group);
  if (byCall === undefined) heads.set(group, (byCall = new Map()));
  let head = byCall.get(callName);
  if (head === undefined) {
    if (++headCount > MAX_HEADS) {
      heads.clear();
      heads.set(group, (byCall = new Map()));
      headCount = 1;
    }
    const prefix = `${group}:${callName}:`;
    head = { text: `${FORMAT}|${group.length}:${group}${callName.length}:${callName}`, prefix, keyBytes: prefixBytes(prefix) };
    byCall.set(callName, head);
  }
  return head;
}

function prefixBytes(prefix: string): Buffer | undefined {
  if (!LATIN1.test(prefix)) return undefined;
  const bytes = Buffer.alloc(prefix.length + 1 + HASH_CHARS);
  bytes.write(prefix, 0, 'latin1');
  return bytes;
}
const LATIN1 = /^[\u0000-\u00ff]*$/;
const LOCAL_ONLY_BYTE = LOCAL_ONLY.charCodeAt(0);

/** The calls of one batch share their version and chain: the last framed tail is kept. */
let lastVersion: KeyParts['version'] | null = null;
let lastChain: string | undefined | null = null;
let lastTail = '';

function framedTail(v: KeyParts['version'], c: string | undefined): string {
  if (v !== lastVersion || c !== lastChain) {
    const version = v === undefined ? '-' : `v${String(v)}`;
    const chain = c === undefined ? '?' : `c${c}`;
    lastTail = `${version.length}:${version}${chain.length}:${chain}`;
    lastVersion = v;
    lastChain = c;
  }
  return lastTail;
}

/** May this key be read from and written to the shared tier? (base64url never holds '~'.) */
export function isSharedKey(key: string): boolean {
  return key[key.lastIndexOf(':') + 1] !== LOCAL_ONLY;
}

/** The prefix that purges one group, or one call of a group ('' callName = the whole group). */
export function cachePrefix(group: string, callName = ''): string {
  return callName === '' ? `${group}:` : `${group}:${callName}:`;
}

