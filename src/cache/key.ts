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
  // Length-prefixed fields: ('a:b', 'c') and ('a', 'b:c') must not hash alike, whatever the
  // fields contain. Code-unit lengths frame the string as unambiguously as byte lengths (the
  // hash reads the whole string as UTF-8) and cost no encoding pass. The version is tagged so
  // "no version" differs from an empty one. One string, one one-shot hash (no Hash object): this
  // runs for every call, 20 times for a batch of 20.
  const { group, callName, keyMaterial } = parts;
  const version = parts.version === undefined ? '-' : `v${String(parts.version)}`;
  const chain = parts.chain === undefined ? '?' : `c${parts.chain}`;
  const text = `${FORMAT}|${group.length}:${group}${callName.length}:${callName}${keyMaterial.length}:${keyMaterial}${version.length}:${version}${chain.length}:${chain}`;
  const digest = hash('sha256', text, 'base64url').slice(0, HASH_CHARS);
  return `${group}:${callName}:${parts.chain === undefined ? LOCAL_ONLY : ''}${digest}`;
}

/** May this key be read from and written to the shared tier? (base64url never holds '~'.) */
export function isSharedKey(key: string): boolean {
  return key[key.lastIndexOf(':') + 1] !== LOCAL_ONLY;
}

/** The prefix that purges one group, or one call of a group ('' callName = the whole group). */
export function cachePrefix(group: string, callName = ''): string {
  return callName === '' ? `${group}:` : `${group}:${callName}:`;
}

