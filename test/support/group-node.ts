// A minimal Aptos-shaped node that says which upstream group it belongs to: every view answer is
// `["<name>"]`, so a test can tell which group answered a request (reload tests). It answers the
// ledger-info poll and views, optionally after a delay, and counts the views it was asked.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GroupNode {
  name: string;
  url: string;
  views: number;
  close(): Promise<void>;
}

export async function startGroupNode(name: string, opts: { ledgerVersion?: number; delayMs?: () => number } = {}): Promise<GroupNode> {
  const version = String(opts.ledgerVersion ?? 1000);
  const headers = { 'content-type': 'application/json', 'x-aptos-ledger-version': version, 'x-aptos-chain-id': '4' };
  const node: GroupNode = { name, url: '', views: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/v1') {
        res.writeHead(200, headers).end(JSON.stringify({ chain_id: 4, epoch: '1', ledger_version: version, block_height: '10' }));
        return;
      }
      if (req.method === 'POST' && path === '/v1/view') {
        node.views++;
        const reply = () => res.writeHead(200, headers).end(JSON.stringify([name]));
        const delay = opts.delayMs?.() ?? 0;
        if (delay > 0) setTimeout(reply, delay);
        else reply();
        return;
      }
      res.writeHead(404, headers).end(JSON.stringify({ message: 'not found', error_code: 'web_framework_error', vm_error_code: null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  node.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  node.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return node;
}
