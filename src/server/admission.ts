// Who may use the proxy and how fast: optional API keys and a per-client token bucket. Buckets are
// kept in a bounded LRU, so a flood of distinct addresses cannot grow memory without limit; a
// forgotten client simply starts again with a full bucket.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema.js';
import { RateLimitedError, UnauthorizedError } from '../errors.js';
import { ForwardedForPolicy } from '../upstream/forwarding.js';

type ServerConfig = Config['server'];

interface Bucket {
  tokens: number;
  at: number;
}

export class Admission {
  private readonly buckets: LRUCache<string, Bucket> | undefined;
  /** Who the client is (X-Forwarded-For trust); also what the node is told. */
  readonly forwarded: ForwardedForPolicy;
  /** The API key each admitted request presented (its header is removed before anything is forwarded). */
  private readonly keys = new WeakMap<IncomingMessage, string>();

  constructor(private readonly config: ServerConfig) {
    this.buckets = config.rateLimit ? new LRUCache({ max: config.rateLimit.maxClients }) : undefined;
    this.forwarded = new ForwardedForPolicy(config);
  }

  /**
   * Checks the API key (removing its header) and, under a rate limit, takes one token; throws the
   * client error. Every way in goes through here: plain requests, pass-through and WebSocket
   * upgrades alike. Who the client is (clientKey) is worked out only for a bucket: every request,
   * hits included, comes through here, and most configs set no rate limit.
   */
  admit(req: IncomingMessage): void {
    const apiKey = this.checkKey(req);
    if (apiKey !== undefined) this.keys.set(req, apiKey);
    if (this.buckets !== undefined) this.take(this.clientKey(req), 1);
  }

  /** The header that carries API keys (never forwarded), when keys are configured. */
  get keyHeader(): string | undefined {
    return this.config.apiKeys?.header;
  }

  /**
   * May this (admitted) request force a strong read? `X-Read-Consistency: strong` costs an
   * uncached, uncoalesced read on the primary that also takes the writes, so an operator can keep
   * it to some API keys or turn it off; from anyone else the header is ignored.
   */
  strongRead(req: IncomingMessage): boolean {
    if (req.headers['x-read-consistency'] !== 'strong') return false;
    const policy = this.config.strongReads;
    if (policy.allow === 'anyone') return true;
    if (policy.allow === 'nobody') return false;
    const key = this.keys.get(req);
    return key !== undefined && policy.keys.some((k) => sameSecret(k, key));
  }

  /** Takes `n` more tokens for the extra calls of a JSON-RPC batch of this (admitted) request. */
  charge(req: IncomingMessage, n: number): void {
    if (n > 0 && this.buckets !== undefined) this.take(this.clientKey(req), n);
  }

  /** Whose bucket (and whose upgrade allowance) an admitted request counts against. */
  clientKey(req: IncomingMessage): string {
    const apiKey = this.keys.get(req);
    if (this.config.rateLimit?.keyBy === 'apiKey' && apiKey) return `key:${apiKey}`;
    return `ip:${this.forwarded.client(req).ip}`;
  }

  private checkKey(req: IncomingMessage): string | undefined {
    const cfg = this.config.apiKeys;
    if (!cfg) return undefined;
    const given = req.headers[cfg.header];
    delete req.headers[cfg.header];
    if (typeof given !== 'string' || !cfg.keys.some((k) => sameSecret(k, given))) {
      throw new UnauthorizedError(`a valid ${cfg.header} header is required`);
    }
    return given;
  }

  private take(client: string, n: number): void {
    const limit = this.config.rateLimit;
    if (!limit || !this.buckets) return;
    const now = performance.now();
    const bucket = this.buckets.get(client) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.requestsPerSecond);
    bucket.at = now;
    this.buckets.set(client, bucket);
    if (bucket.tokens < n) {
      const waitS = Math.ceil((n - bucket.tokens) / limit.requestsPerSecond);
      throw new RateLimitedError(`rate limit of ${limit.requestsPerSecond}/s exceeded`, waitS);
    }
    bucket.tokens -= n;
  }
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
