// The one source of truth for proxy.config.yaml: shape, defaults and constraints. Validation, the
// TypeScript types and the published JSON Schema (schema/proxy.config.schema.json) all come from
// here, so they cannot drift apart. Every object is strict: an unknown key is an error, because a
// misspelt cache setting that is silently ignored is how a proxy serves stale data for months.
import { isIP } from 'node:net';
import { z } from 'zod';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'not a host:port address (e.g. 0.0.0.0:8080)')
  .describe('host:port to listen on; an empty host means every interface');

const httpUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'not a URL (http:// or https://)')
  .describe('http:// or https:// base URL of a node');

const cidr = z
  .string()
  .refine((s) => isCidr(s), 'not an IP address or CIDR (10.0.0.0/8, fd00::/8, 192.0.2.7)')
  .describe('an IPv4/IPv6 address or CIDR');

function isCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

const ms = (d: number) => z.number().int().min(0).default(d);
const posInt = (d: number) => z.number().int().min(1).default(d);

export const dialectNames = ['aptos-rest', 'evm-jsonrpc', 'neo-jsonrpc'] as const;
export const balanceModes = ['round-robin', 'least-connections', 'random', 'latency'] as const;
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const serverSchema = z
  .strictObject({
    listen: hostPort.default('0.0.0.0:8080').describe('client traffic'),
    admin: hostPort.default('127.0.0.1:9090').describe('/healthz /readyz /metrics /admin/*; never on the traffic port'),
    adminToken: z.string().min(16).optional().describe('bearer token required by /admin/* from non-loopback callers, and from browsers (Origin, non-loopback Host, form content types) even on loopback'),
    maxBodyBytes: posInt(1_048_576).describe('largest request body accepted (413 above)'),
    maxHeaderBytes: posInt(16_384).describe('largest request header block accepted'),
    requestTimeoutMs: posInt(30_000).describe('a client request is answered by this deadline'),
    keepAliveTimeoutMs: posInt(65_000),
    trustForwardedFor: z.boolean().default(false).describe('shorthand for forwardedFor.trustedHops: 1 (one trusted proxy or load balancer in front)'),
    forwardedFor: z
      .strictObject({
        trustedHops: z.number().int().min(0).max(16).default(0).describe('proxies in front of this one that append to X-Forwarded-For; the client address is the entry this many hops from the right (0: the socket peer, the header is replaced)'),
        trustedProxies: z.array(cidr).default([]).describe('addresses/CIDRs of trusted proxies: the client is the rightmost X-Forwarded-For entry (or the peer) that is not one of them; overrides trustedHops'),
      })
      .prefault({})
      .describe('who the client is, for rate limits and for the X-Forwarded-For sent to nodes'),
    upgrades: z
      .strictObject({
        maxPerClient: posInt(16).describe('WebSocket connections one client (rate-limit key) may hold open at once'),
        maxTotal: posInt(1_024).describe('WebSocket connections open through this proxy at once'),
        handshakeTimeoutMs: posInt(10_000).describe('the node must answer the upgrade within this time'),
      })
      .prefault({}),
    strongReads: z
      .strictObject({
        allow: z.enum(['anyone', 'keys', 'nobody']).default('anyone').describe('who may send X-Read-Consistency: strong (uncached, uncoalesced reads on the primary); from anyone else the header is ignored'),
        keys: z.array(z.string().min(16)).default([]).describe("with allow: keys, the API keys (server.apiKeys) whose clients may"),
      })
      .prefault({}),
    apiKeys: z
      .strictObject({
        header: z.string().regex(/^[a-z0-9-]+$/, 'a lower-case header name').default('x-api-key'),
        keys: z.array(z.string().min(16, 'keys need at least 16 characters')).min(1),
      })
      .optional()
      .describe('when set, clients must send one of these keys (the header is not forwarded)'),
    rateLimit: z
      .strictObject({
        requestsPerSecond: z.number().gt(0).describe('sustained calls per second per client (a JSON-RPC batch counts each call)'),
        burst: posInt(100).describe('calls a client may send at once'),
        keyBy: z.enum(['ip', 'apiKey']).default('ip'),
        maxClients: posInt(100_000).describe('clients tracked at once (least recently seen forgotten first)'),
      })
      .optional(),
    shutdown: z
      .strictObject({
        drainDelayMs: ms(5_000).describe('after SIGTERM, keep accepting while /readyz is 503, so the endpoint leaves the Service first'),
        deadlineMs: ms(25_000).describe('in-flight requests may finish until then'),
      })
      .prefault({}),
  })
  .prefault({});

const classTimeoutSchema = z.strictObject({
  headersMs: z.number().int().min(1).optional(),
  bodyMs: z.number().int().min(1).optional(),
});

const timeoutsSchema = z
  .strictObject({
    connectMs: posInt(3_000),
    headersMs: posInt(10_000).describe('time to answer headers for "normal" calls (most reads, writes)'),
    bodyMs: posInt(30_000).describe('time between body chunks for "normal" calls'),
    byClass: z
      .strictObject({
        fast: classTimeoutSchema
          .prefault({})
          .describe('view calls and cheap lookups (eth_call, eth_getBalance, Aptos view/resources, Neo invokefunction); default headers min(headersMs, 3000), body min(bodyMs, 10000)'),
        slow: classTimeoutSchema
          .prefault({})
          .describe('eth_getLogs, traces, blocks with transactions, Neo getblock verbose; default headers 3 x headersMs, body 4 x bodyMs'),
      })
      .prefault({})
      .describe('per call class; the dialect tables say which class a call is (a JSON-RPC batch takes its slowest call\'s class)'),
  })
  .prefault({});

const hedgeSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('idempotent reads with no answer headers after the hedge delay are also sent to another node; the first good answer wins'),
    delayMs: z.number().int().min(1).optional().describe('fixed hedge delay; unset: the quantile of recent answer times, within minDelayMs..maxDelayMs'),
    quantile: z.number().gt(0).lt(1).default(0.95).describe('which quantile of recent time-to-headers is the delay'),
    minDelayMs: posInt(50),
    maxDelayMs: posInt(2_000).describe('also the delay until 20 answers have been seen'),
    maxExtraPercent: z.number().min(0).max(100).default(10).describe('hedges never add more than this share of the group\'s upstream requests (plus a burst of 10)'),
  })
  .prefault({});

const retrySchema = z
  .strictObject({
    attempts: z.number().int().min(0).max(5).default(1).describe('extra tries on another node for idempotent reads'),
    baseDelayMs: ms(25),
    maxDelayMs: ms(250),
  })
  .prefault({});

const healthSchema = z
  .strictObject({
    ejectAfterFailures: posInt(3).describe('consecutive failures that open the breaker (take the node out of rotation)'),
    errorRate: z.number().gt(0).max(1).default(0.5).describe('failure rate over the window that opens the breaker'),
    windowSize: posInt(20).describe('outcomes in the rolling window'),
    minSamples: posInt(10).describe('outcomes needed before the failure rate counts'),
    openMs: posInt(5_000).describe('how long an open breaker keeps traffic away before one trial request'),
    probeIntervalMs: posInt(1_000).describe('how often an out-of-rotation node is probed; a good probe puts it back'),
  })
  .prefault({});

const lagSchema = z
  .strictObject({
    maxLag: z.number().int().min(0).optional().describe('versions/blocks a replica may be behind the group head and still serve reads (default: 50000 versions for aptos-rest, 5 blocks for evm-jsonrpc, 2 for neo-jsonrpc)'),
    maxHeadAgeMs: posInt(30_000).describe('a replica whose head has not moved for this long while the group head has leaves the read rotation'),
  })
  .prefault({});

const upstreamSchema = z.strictObject({
  dialect: z.enum(dialectNames),
  primary: httpUrl,
  replicas: z.array(httpUrl).default([]),
  balance: z.enum(balanceModes).default('round-robin'),
  headers: z.record(z.string(), z.string()).default({}).describe('added to every upstream call (API keys: use ${ENV})'),
  finalityDepth: z.number().int().min(0).optional().describe('EVM: blocks below the head that can still reorg (default 64 for evm-jsonrpc, 0 otherwise)'),
  maxResponseBytes: posInt(8_388_608).describe('answers larger than this are streamed and never cached'),
  timeouts: timeoutsSchema,
  hedge: hedgeSchema,
  retry: retrySchema,
  health: healthSchema,
  lag: lagSchema,
  head: z.strictObject({ pollIntervalMs: posInt(1_000) }).prefault({}),
  methods: z
    .strictObject({
      allow: z.array(z.string().min(1)).default([]).describe('JSON-RPC: when non-empty, only methods starting with one of these prefixes are served'),
      deny: z.array(z.string().min(1)).default([]).describe('JSON-RPC: methods starting with one of these prefixes (admin_, debug_, personal_) are answered with error -32601'),
    })
    .prefault({}),
});

const ttlSchema = z
  .strictObject({
    immutable: ms(3_600_000).describe('pinned reads and by-hash lookups'),
    head: ms(2_000).describe('reads keyed by the head (latest)'),
    unfinalized: ms(3_000).describe('EVM reads pinned within finalityDepth of the head'),
  })
  .prefault({});

const routeCacheSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    ttlMs: ttlSchema,
    maxStaleness: z
      .strictObject({
        versions: z.number().int().min(0).optional().describe('a latest read may be answered for a head at most this far behind the tracked head (default: unbounded for aptos-rest, 0 for evm-jsonrpc and neo-jsonrpc)'),
        ms: z.number().int().min(0).optional().describe('... and for a head snapshot at most this old (default: 1000 for aptos-rest, 0 for evm-jsonrpc and neo-jsonrpc); 0 with versions 0 means exactly the current head. Never below the read-your-writes floor; a head no poll or answer confirmed for ms + head.pollIntervalMs (+ slack) is not served from'),
      })
      .prefault({})
      .describe('how stale a latest read may be; each field defaults by the group\'s dialect'),
    staleIfErrorMs: ms(0).describe('when every node fails, an expired answer of the same read (or the previous head\'s) up to this old may be served, marked X-Cache: STALE; 0 = off'),
    staleWhileRevalidateMs: ms(0).describe('latest reads: when the head snapshot moved, the previous head\'s answer up to this old is served (STALE) while one background refresh runs; 0 = off'),
  })
  .prefault({});

const routeSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/).optional().describe('metric label; defaults to the upstream name'),
  match: z.strictObject({
    pathPrefix: z.string().startsWith('/', 'must start with /').default('/'),
    methods: z.array(z.string().regex(/^[A-Z]+$/, 'an upper-case HTTP method')).optional().describe('HTTP methods this route takes (default: all); one that takes GET takes HEAD too'),
    host: z.string().optional().describe('exact Host header (port ignored)'),
  }),
  upstream: z.string(),
  stripPrefix: z.boolean().default(false).describe('remove pathPrefix before forwarding'),
  monotonicReads: z.boolean().default(false).describe('honour X-Min-Ledger-Version: a latest read is never answered for an older version (answers carry X-Ledgerproxy-Version)'),
  cache: routeCacheSchema,
});

const redisSchema = z.strictObject({
  url: z.string().optional().describe('redis://[:password@]host:port/db for a single Redis'),
  sentinels: z.array(z.strictObject({ host: z.string(), port: z.number().int() })).optional(),
  sentinelName: z.string().optional(),
  cluster: z.array(z.string()).optional().describe('Redis Cluster seed nodes, redis://host:port'),
  prefix: z.string().default('ledgerproxy:'),
  commandTimeoutMs: posInt(100),
  connectTimeoutMs: posInt(2_000),
});

const cacheSchema = z
  .strictObject({
    memory: z
      .strictObject({
        maxBytes: posInt(67_108_864),
        maxEntryBytes: posInt(1_048_576),
      })
      .prefault({}),
    redis: redisSchema.optional(),
    compression: z
      .strictObject({
        level: z.number().int().min(1).max(9).default(6),
        minBytes: z.number().int().min(0).default(256),
        minSavings: z.number().min(0).max(1).default(0.1),
      })
      .prefault({}),
  })
  .prefault({});

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  server: serverSchema,
  log: z
    .strictObject({
      level: z.enum(logLevels).default('info'),
      // debug, not info: a line per request at info costs a cache hit ~70 % more CPU (bench/ scenario a).
      requests: z.enum(logLevels).default('debug').describe('level of the one line logged per request; the default debug logs it only at log.level debug (a line per request costs a cache hit about 70 % more CPU)'),
    })
    .prefault({}),
  upstreams: z.record(z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, 'group names are 1-40 of [a-zA-Z0-9_-]'), upstreamSchema),
  routes: z.array(routeSchema).min(1),
  cache: cacheSchema,
  limits: z
    .strictObject({
      maxJsonDepth: posInt(64),
      maxBatchLength: posInt(1_000),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type UpstreamConfig = Config['upstreams'][string];
export type RouteConfig = Config['routes'][number];
export type RedisConfig = z.output<typeof redisSchema>;

export function jsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
