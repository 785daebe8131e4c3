// Who may use the proxy and how fast: optional API keys and a per-client token bucket. Buckets are
// kept in a bounded LRU, so a flood of distinct addresses cannot grow memory without limit; a
// forgotten client simply starts again with a full bucket.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema.js';
import { RateLimitedError, UnauthorizedError } from '../errors.js';

type ServerConfig = Config['server'];

interface Bucket {
  tokens: number;
  at: number;
}

export class Admission {
  private readonly buckets: LRUCache<string, Bucket> | undefined;

  constructor(private readonly config: ServerConfig) {
    this.buckets = config.rateLimit ? new LRUCache({ max: config.rateLimit.maxClients }) : undefined;
  }

  /** Checks the API key (removing its header) and takes one token; throws the client error. */
  admit(req: IncomingMessage): string {
    const apiKey = this.checkKey(req);
    const client = this.clientKey(req, apiKey);
    this.take(client, 1);
    return client;
  }

  /** Takes `n` more tokens for the extra calls of a JSON-RPC batch. */
  charge(client: string, n: number): void {
    if (n > 0) this.take(client, n);
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

  private clientKey(req: IncomingMessage, apiKey: string | undefined): string {
    if (this.config.rateLimit?.keyBy === 'apiKey' && apiKey) return `key:${apiKey}`;
    const forwarded = req.headers['x-forwarded-for'];
    if (this.config.trustForwardedFor && typeof forwarded === 'string') return `ip:${forwarded.split(',')[0]?.trim()}`;
    return `ip:${req.socket.remoteAddress ?? 'unknown'}`;
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
