// host:port strings from the config to what server.listen wants.
import type { Server } from 'node:http';

export function parseHostPort(value: string): { host: string; port: number } {
  const idx = value.lastIndexOf(':');
  const rawHost = value.slice(0, idx);
  const host = rawHost.replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(value.slice(idx + 1)) };
}

export function listen(server: Server, address: string): Promise<{ host: string; port: number }> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve({ host, port: typeof addr === 'object' && addr ? addr.port : port });
    });
  });
}
