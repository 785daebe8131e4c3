// Who the client is, and what the node is told about it. The X-Forwarded-For a client sends is
// only a claim: each proxy appends the address it received the connection from, so only the
// entries appended by proxies the operator trusts mean anything, and the client address is the
// rightmost entry not added by one of them (issue 14 #5: the leftmost entry is whatever the client
// wrote). Trust is configured as a number of hops in front (`forwardedFor.trustedHops`, or the
// legacy `trustForwardedFor: true` = 1 hop) or as the trusted proxies' addresses
// (`forwardedFor.trustedProxies`). The node gets X-Forwarded-For from the client address onwards,
// so a node that reads its first entry sees the address the proxy itself used.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Config } from '../config/schema.js';
import type { ForwardInfo } from './client.js';

type ServerConfig = Config['server'];

export interface ClientAddress {
  /** The address the proxy treats as the client's (rate-limit key, X-Forwarded-For head). */
  ip: string;
  /** X-Forwarded-For to send: the client address, then every trusted hop, then the peer. */
  forwardedFor: string;
}

export class ForwardedForPolicy {
  private readonly hops: number;
  private readonly trusted: BlockList | undefined;

  constructor(config: Pick<ServerConfig, 'trustForwardedFor' | 'forwardedFor'>) {
    this.hops = Math.max(config.forwardedFor.trustedHops, config.trustForwardedFor ? 1 : 0);
    this.trusted = config.forwardedFor.trustedProxies.length > 0 ? blockList(config.forwardedFor.trustedProxies) : undefined;
  }

  /** Does the policy read X-Forwarded-For at all? (When not, the peer is the client.) */
  get readsHeader(): boolean {
    return this.hops > 0 || this.trusted !== undefined;
  }

  client(req: IncomingMessage): ClientAddress {
    const peer = plainAddress(req.socket.remoteAddress) ?? 'unknown';
    const header = req.headers['x-forwarded-for'];
    if (!this.readsHeader || header === undefined) return { ip: peer, forwardedFor: peer };
    const chain = [...entries(header), peer];
    const at = this.trusted ? this.firstUntrusted(chain) : Math.max(0, chain.length - 1 - this.hops);
    const ip = chain[at] as string;
    return { ip, forwardedFor: chain.slice(at).join(', ') };
  }

  /** From the right: skip addresses of trusted proxies; an unparsable entry is never trusted. */
  private firstUntrusted(chain: string[]): number {
    for (let i = chain.length - 1; i > 0; i--) {
      const addr = chain[i] as string;
      const family = isIP(addr);
      if (family === 0 || !this.trusted?.check(addr, family === 4 ? 'ipv4' : 'ipv6')) return i;
    }
    return 0;
  }
}

export function forwardInfo(policy: ForwardedForPolicy, requestId: string, req: IncomingMessage): ForwardInfo {
  const client = policy.client(req);
  return { requestId, clientIp: client.ip, forwardedFor: client.forwardedFor, proto: 'http', host: req.headers.host };
}

function entries(header: string | string[]): string[] {
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined.split(',').map((e) => plainAddress(e.trim()) ?? '').filter((e) => e !== '');
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; `[::1]:80` / `1.2.3.4:80` → the address. */
function plainAddress(addr: string | undefined): string | undefined {
  if (addr === undefined || addr === '') return undefined;
  // The common case (an IPv4 peer, an IPv4 list entry) needs no pattern: this runs per request.
  if (addr.indexOf(':') < 0) return addr;
  let a = addr;
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracket) a = bracket[1] as string;
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  return a.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}
