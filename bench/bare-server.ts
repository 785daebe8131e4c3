// The ceiling for any Node proxy here: a bare node:http server that reads the request body and
// answers one fixed response (status, headers and body captured from a proxy cache hit, so the
// bytes on the wire are the same). Run as its own process:
//   node --import tsx bench/bare-server.ts --spec FILE     (FILE: {"status","headers":[[n,v]],"body":base64})
// Prints `READY {"port":N}` on stdout once listening on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

export interface BareSpec {
  status: number;
  headers: Array<[string, string]>;
  /** base64 */
  body: string;
}

const { values } = parseArgs({ options: { spec: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (values.spec === undefined) throw new Error('--spec FILE is required');
const spec = JSON.parse(readFileSync(values.spec, 'utf8')) as BareSpec;
const body = Buffer.from(spec.body, 'base64');
// Node adds date and connection itself, as it does for the proxy.
const skip = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);
const flat: string[] = [];
for (const [n, v] of spec.headers) if (!skip.has(n.toLowerCase())) flat.push(n, v);
flat.push('content-length', String(body.length));

const server = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
  req.on('end', () => {
    res.writeHead(spec.status, flat);
    res.end(body);
  });
  req.resume();
});

server.listen(Number(values.port), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`READY ${JSON.stringify({ port })}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 1000).unref();
