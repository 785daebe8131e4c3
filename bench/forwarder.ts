// The runtime's floor for pass-through: node:http in, one undici Pool out, nothing else (no
// routing, no header hygiene, no metrics). `npx tsx bench/forwarder.ts <listenPort> <upstreamOrigin>`.
// Whatever ledgerproxy adds on the pass-through path is measured against this.
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { Pool } from 'undici';

export function startForwarder(port: number, upstream: string): Promise<{ close(): Promise<void> }> {
  const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const server = createServer((req, res) => {
    const length = req.headers['content-length'];
    const headers: Record<string, string> = {};
    if (typeof req.headers['content-type'] === 'string') headers['content-type'] = req.headers['content-type'];
    if (length !== undefined) headers['content-length'] = length;
    pool.stream(
      { method: req.method as 'GET', path: req.url ?? '/', headers, body: length === undefined || length === '0' ? null : req },
      ({ statusCode, headers: h }) => {
        res.statusCode = statusCode;
        const ct = h['content-type'];
        if (typeof ct === 'string') res.setHeader('content-type', ct);
        const cl = h['content-length'];
        if (typeof cl === 'string') res.setHeader('content-length', cl);
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
  const [port, upstream] = process.argv.slice(2);
  if (!port || !upstream) throw new Error('usage: forwarder.ts <port> <upstreamOrigin>');
  void startForwarder(Number(port), upstream);
}
