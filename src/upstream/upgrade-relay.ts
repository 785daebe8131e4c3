// WebSocket upgrades: a small relay over node:net/tls. The traffic server has already admitted
// the request (API key, rate limit: admission.ts) and counted it against the upgrade bounds
// (UpgradeGate); here the handshake is written to the group's primary by the proxy itself —
// request line, the client's end-to-end headers (no Content-Length/Transfer-Encoding, no API-key
// header, no forwarding claims), `Connection: Upgrade`, the forwarding headers — on a connection of
// its own, never one shared with other clients. The node must answer within the handshake timeout;
// a 101 turns the two sockets into a tunnel, anything else is relayed and both are closed.
// Subscriptions are node-local state, so upgrades go to the primary.
import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { upstreamErrorsTotal } from '../metrics/metrics.js';
import { passThroughRequestHeaders } from '../response/headers.js';
import { nodePath, toUpstreamError, type ForwardInfo } from './client.js';
import type { UpstreamNode } from './node.js';
import type { ReplicaSet } from './replica-set.js';

/** The most a node's handshake answer head may take. */
const MAX_HANDSHAKE_BYTES = 16 * 1024;

export interface UpgradeOptions {
  handshakeTimeoutMs: number;
  /** Called once when the tunnel (or the attempt) is over: the gate releases the slot. */
  onClose: () => void;
  /** Where the open tunnel is registered, so shutdown can close it (OpenTunnels). */
  tunnels?: OpenTunnels;
}

/**
 * The tunnels (and handshakes) a traffic server has open. An open WebSocket never ends by itself,
 * and node:http neither tracks nor closes upgraded sockets (closeAllConnections skips them;
 * server.close() waits for them): drain closes them here (lifecycle.ts).
 */
export class OpenTunnels {
  private readonly open = new Set<() => void>();

  /** Registers a tunnel's close; returns the unregister (called when the tunnel ends by itself). */
  add(close: () => void): () => void {
    this.open.add(close);
    return () => this.open.delete(close);
  }

  /** Closes every open tunnel; returns how many there were. */
  closeAll(): number {
    const all = [...this.open];
    this.open.clear();
    for (const close of all) close();
    return all.length;
  }

  get size(): number {
    return this.open.size;
  }
}

const tunnelsByServer = new WeakMap<object, OpenTunnels>();

/** The registry of one traffic server's tunnels (created on first use). */
export function tunnelsOf(server: object): OpenTunnels {
  let t = tunnelsByServer.get(server);
  if (!t) {
    t = new OpenTunnels();
    tunnelsByServer.set(server, t);
  }
  return t;
}

export function passThroughUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, set: ReplicaSet, fwd: ForwardInfo, opts: UpgradeOptions): void {
  const node = set.primary;
  const upstream = dial(node);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    unregister();
    clearTimeout(timer);
    upstream.destroy();
    client.destroy();
    opts.onClose();
  };
  const unregister = opts.tunnels?.add(close) ?? (() => false);
  const timer = setTimeout(() => fail(new Error('handshake timed out')), opts.handshakeTimeoutMs);
  const fail = (err: Error) => {
    upstreamErrorsTotal.inc({ group: node.group, node: node.name, code: toUpstreamError(err).code });
    if (!closed && client.writable && !handshakeDone) {
      client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: 67\r\nconnection: close\r\n\r\n{"message":"upstream did not accept","error_code":"upstream_error"}');
    }
    close();
  };
  let handshakeDone = false;
  // Traffic sockets are half-open capable: a client's FIN must end the tunnel, not half of it.
  client.on('error', close).on('close', close).on('end', close);
  upstream.on('error', fail).on('end', () => {
    if (handshakeDone && client.writable) client.end(close);
    else close();
  }).on('close', () => {
    // Let what the node sent last reach the client before both are gone.
    if (handshakeDone && client.writable) client.end(close);
    else close();
  });
  upstream.once('connect', () => {
    upstream.write(handshake(req, node, set, fwd));
    if (head.length > 0) upstream.write(head);
  });
  readAnswerHead(upstream, (answer, rest) => {
    handshakeDone = true;
    clearTimeout(timer);
    client.write(answer);
    if (rest.length > 0) client.write(rest);
    if (!/^HTTP\/1\.[01] 101/.test(answer.toString('latin1', 0, 16))) {
      // Not switched: the node's answer goes to the client, and that is the end of both.
      upstream.pipe(client);
      return;
    }
    upstream.pipe(client);
    client.pipe(upstream);
  }, fail);
}

function dial(node: UpstreamNode): Socket {
  const url = new URL(node.origin);
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol === 'https:') {
    const socket = tlsConnect({ host, port, servername: host, ALPNProtocols: ['http/1.1'] });
    socket.once('secureConnect', () => socket.emit('connect'));
    return socket;
  }
  const socket = netConnect({ host, port });
  socket.setNoDelay(true);
  return socket;
}

function handshake(req: IncomingMessage, node: UpstreamNode, set: ReplicaSet, fwd: ForwardInfo): string {
  const headers = passThroughRequestHeaders(req.headers);
  const extra: Array<[string, string]> = Object.entries(set.config.headers).map(([k, v]) => [k.toLowerCase(), v]);
  if (node.credentials.authorization) extra.push(['authorization', node.credentials.authorization]);
  const replaced = new Set(extra.map(([k]) => k));
  const lines = [`GET ${nodePath(node, req.url ?? '/')} HTTP/1.1`, `host: ${new URL(node.origin).host}`];
  for (let i = 0; i < headers.length; i += 2) if (!replaced.has(headers[i] as string)) lines.push(`${headers[i]}: ${headers[i + 1]}`);
  for (const [k, v] of extra) lines.push(`${k}: ${v}`);
  lines.push('connection: Upgrade', 'upgrade: websocket', `x-request-id: ${fwd.requestId}`, `x-forwarded-proto: ${fwd.proto}`);
  if (fwd.forwardedFor) lines.push(`x-forwarded-for: ${fwd.forwardedFor}`);
  if (fwd.host) lines.push(`x-forwarded-host: ${fwd.host}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Collects the node's answer head (status line + headers), bounded; `rest` is what came after it. */
function readAnswerHead(socket: Socket, done: (head: Buffer, rest: Buffer) => void, fail: (err: Error) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buffered.length > MAX_HANDSHAKE_BYTES) {
        socket.off('data', onData);
        fail(new Error('handshake answer too large'));
      }
      return;
    }
    socket.off('data', onData);
    socket.pause();
    done(buffered.subarray(0, end + 4), buffered.subarray(end + 4));
  };
  socket.on('data', onData);
}

/**
 * Bounds on open upgrades, per client (its admission key) and in total: each open WebSocket holds
 * two sockets and node-local state on the primary, so an anonymous client must not be able to pin
 * them all (issue 14 #3). One gate per traffic server, so a config reload does not forget them.
 */
export class UpgradeGate {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  /** Takes a slot; undefined when a bound is reached, else the release function (idempotent). */
  acquire(client: string, maxPerClient: number, maxTotal: number): (() => void) | undefined {
    const mine = this.perClient.get(client) ?? 0;
    if (this.total >= maxTotal || mine >= maxPerClient) return undefined;
    this.total++;
    this.perClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    };
  }

  get open(): number {
    return this.total;
  }
}
