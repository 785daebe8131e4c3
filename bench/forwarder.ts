// The runtime's floor for pass-through: node:http in, one undici Pool out, nothing else (no
// routing, no header hygiene, no metrics).
// `npx tsx bench/forwarder.ts <listenPort> <upstreamOrigin> [--minimal-headers]`.
// Whatever ledgerproxy adds on the pass-through path is measured against this.
//
// The node's answer is passed back whole: its status, its body and its headers (less the hop-by-hop
// ones, which belong to the connection). An Aptos node sends seven x-aptos-* headers with every
// answer and a client reads them, so a floor that dropped them would not be passing the answer
// back. `--minimal-headers` copies only content-type and content-length, as this forwarder did
// before (kept as a second row, so the change of floor is visible in the same run).
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { Pool } from 'undici';

/** RFC 9110 7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

type AnswerHeaders = Record<string, string | string[] | undefined>;

/** The node's headers as one flat list for writeHead (what a Node forwarder would do once per answer). */
function passedHeaders(h: AnswerHeaders, minimal: boolean): string[] {
  const flat: string[] = [];
  for (const name in h) {
    const value = h[name];
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (minimal && name !== 'content-type' && name !== 'content-length') continue;
    if (Array.isArray(value)) for (const v of value) flat.push(name, v);
    else flat.push(name, value);
  }
  return flat;
}

export function startForwarder(port: number, upstream: string, minimal = false): Promise<{ close(): Promise<void> }> {
  const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const server = createServer((req, res) => {
    const length = req.headers['content-length'];
    const headers: Record<string, string> = {};
    if (typeof req.headers['content-type'] === 'string') headers['content-type'] = req.headers['content-type'];
    if (length !== undefined) headers['content-length'] = length;
    pool.stream(
      { method: req.method as 'GET', path: req.url ?? '/', headers, body: length === undefined || length === '0' ? null : req },
      ({ statusCode, headers: h }) => {
        res.writeHead(statusCode, passedHeaders(h as AnswerHeaders, minimal));
        return res as unknown as Writable;
      },
    ).catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({
    close: () => new Promise<void>((r) => { server.close(() => r()); void pool.close(); }),
  })));
}

if (process.argv[1]?.endsWith('forwarder.ts')) {
  const [port, upstream, flag] = process.argv.slice(2);
  if (!port || !upstream || (flag !== undefined && flag !== '--minimal-headers')) throw new Error('usage: forwarder.ts <port> <upstreamOrigin> [--minimal-headers]');
  void startForwarder(Number(port), upstream, flag === '--minimal-headers');
}
