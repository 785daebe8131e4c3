/**
 * A real HTTP node that misbehaves on script, for what a real node cannot be made to show: a
 * balancer's `200 text/html` maintenance page, a JSON-RPC answer with `id: null` results or
 * duplicate ids, an oversize merged batch, a `500` carrying a JSON-RPC error, a `Set-Cookie`...
 *
 * It sits in front of a target node (one of the support nodes or ganache) like a balancer would:
 * by default every request is forwarded to the target and its answer relayed unchanged. A script
 * step sees the request and may answer by itself or change the target's answer. Steps are
 * consumed in order, one per matching request; `always` installs a step that never runs out.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as undiciRequest } from 'undici';

export interface ScriptedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: unknown;
}

export interface ScriptedReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Answers a request: `target()` forwards it to the real node (once) and returns its answer. */
export type ScriptStep = (req: ScriptedRequest, target: () => Promise<ScriptedReply>) => ScriptedReply | Promise<ScriptedReply>;

export interface ScriptedNode {
  url: string;
  /** Every request received, in order. */
  readonly received: ScriptedRequest[];
  /** Queue steps, each used for one request (when `when` matches; default every request). */
  script(...steps: ScriptStep[]): void;
  /** A step used for every matching request until cleared. */
  always(step: ScriptStep | undefined): void;
  /** Steps still queued. */
  readonly pending: number;
  close(): Promise<void>;
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'upgrade']);

export async function startScriptedNode(target: string): Promise<ScriptedNode> {
  const queue: ScriptStep[] = [];
  let standing: ScriptStep | undefined;
  const received: ScriptedRequest[] = [];

  const forward = async (req: ScriptedRequest): Promise<ScriptedReply> => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const res = await undiciRequest(new URL(req.url, target), {
      method: req.method as 'GET',
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (!HOP.has(k) && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode, headers: out, body };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
      const sreq: ScriptedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, json };
      received.push(sreq);
      const step = queue.shift() ?? standing;
      let once: Promise<ScriptedReply> | undefined;
      const target = (): Promise<ScriptedReply> => (once ??= forward(sreq));
      Promise.resolve(step ? step(sreq, target) : target())
        .then((reply) => {
          res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
          res.end(reply.body);
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    script: (...steps) => void queue.push(...steps),
    always: (step) => {
      standing = step;
    },
    get pending() {
      return queue.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- ready-made misbehaviour ------------------------------------------------------------------

const json = (status: number, value: unknown, headers: Record<string, string> = {}): ScriptedReply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: Buffer.from(JSON.stringify(value)),
});

/** A balancer's maintenance page, served as a 200 (the worst kind). */
export const htmlMaintenancePage: ScriptStep = () => ({
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: Buffer.from('<html><body><h1>Down for maintenance</h1></body></html>'),
});

/** The target's answer with every element's id replaced by null (a broken gateway). */
export const idNullResults: ScriptStep = async (_req, target) => {
  const r = await target();
  const doc = JSON.parse(r.body.toString('utf8')) as unknown;
  const strip = (e: unknown): unknown => ({ ...(e as object), id: null });
  return json(r.status, Array.isArray(doc) ? strip(doc[0]) : strip(doc));
};

/** A batch answered with the first element's id on every element. */
export const duplicateIds: ScriptStep = async (_req, target) => {
  const r = await target();
  const doc = JSON.parse(r.body.toString('utf8')) as Array<{ id: unknown }>;
  if (!Array.isArray(doc)) return r;
  return json(r.status, doc.map((e) => ({ ...e, id: doc[0]?.id })));
};

/** HTTP 500 with a JSON-RPC error for the call's own id (how some gateways report node errors). */
export const status500RpcError: ScriptStep = (req) => {
  const id = (req.json as { id?: unknown } | undefined)?.id ?? null;
  return json(500, { jsonrpc: '2.0', id, error: { code: -32000, message: 'internal node error' } });
};

/** The target's answer with a Set-Cookie naming this request, after a delay (so others coalesce). */
export function withSetCookie(delayMs: number): ScriptStep {
  let n = 0;
  return async (_req, target) => {
    const cookie = `session=client-${++n}`;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const r = await target();
    return { ...r, headers: { ...r.headers, 'set-cookie': cookie } };
  };
}
