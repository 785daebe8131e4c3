// Raw HTTP/1.1 over node:net for tests that must control every byte a client sends (framing
// headers, Connection tokens, pipelining) and see every byte it gets back.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Sends `bytes` on a new connection and reads `count` responses (or until the server closes it). */
export async function rawExchange(port: number, bytes: string | Buffer, count = 1, timeoutMs = 5_000): Promise<{ responses: RawResponse[]; closed: boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.write(bytes);
  const result = await readResponses(socket, count, timeoutMs);
  socket.destroy();
  return result;
}

export function readResponses(socket: Socket, count: number, timeoutMs: number, headMethods: boolean[] = []): Promise<{ responses: RawResponse[]; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ responses, closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = parseOne(buf, headMethods[responses.length] === true);
        if (!parsed) break;
        responses.push(parsed.response);
        buf = buf.subarray(parsed.used);
        if (responses.length >= count) return finish();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', () => undefined);
  });
}

/** One response from the front of `buf`, or undefined when incomplete. */
export function parseOne(buf: Buffer, headOnly = false): { response: RawResponse; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let at = end + 4;
  if (headOnly || status === 204 || status === 304 || status === 101 || (status >= 100 && status < 200)) {
    return { response: { status, headers, body: Buffer.alloc(0) }, used: at };
  }
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) {
        const trailerEnd = buf.indexOf('\r\n', lineEnd + 2);
        if (trailerEnd < 0) return undefined;
        return { response: { status, headers, body: Buffer.concat(parts) }, used: trailerEnd + 2 };
      }
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < at + length) return undefined;
  return { response: { status, headers, body: buf.subarray(at, at + length) }, used: at + length };
}
