// A cold herd: N identical requests sent at once over N already-open keep-alive connections, each
// timed from its own send to its last body byte. The leader is the answer marked X-Cache MISS.
import { readdirSync, readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface HerdAnswer {
  /** ms from this request's own send to its last byte */
  ms: number;
  /** ms from the first send of the herd to this request's send */
  sentAt: number;
  status: number;
  xCache: string;
  body: string;
}

export class HerdClient {
  private readonly pool: Pool;
  /** Connections opened so far: a herd that opens any was not sent over the warmed connections. */
  connects = 0;

  constructor(readonly origin: string, readonly size: number) {
    this.pool = new Pool(origin, { connections: size, pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
    this.pool.on('connect', () => this.connects++);
  }

  /** Opens `size` connections (warmPath must be answered by the server itself, without upstream). */
  async warm(warmPath: string): Promise<void> {
    await Promise.all(
      Array.from({ length: this.size }, async () => {
        const res = await this.pool.request({ path: warmPath, method: 'GET' });
        await res.body.text();
      }),
    );
  }

  async fire(req: { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string }): Promise<HerdAnswer[]> {
    const t0 = performance.now();
    const one = async (): Promise<HerdAnswer> => {
      const sent = performance.now();
      const res = await this.pool.request({ path: req.path, method: req.method, headers: req.headers, body: req.body });
      const body = await res.body.text();
      const xc = res.headers['x-cache'];
      return { ms: performance.now() - sent, sentAt: sent - t0, status: res.statusCode, xCache: Array.isArray(xc) ? xc.join(',') : (xc ?? ''), body };
    };
    const all: Array<Promise<HerdAnswer>> = [];
    for (let i = 0; i < this.size; i++) all.push(one());
    return Promise.all(all);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * CPU time (ms) a process has run so far: its main thread (where a node process runs all its
 * JavaScript: the serial part of a herd) and all its threads (GC helpers, libuv pool), from
 * /proc/<pid>/task/<tid>/schedstat (ns). NaN where unreadable.
 */
export function processCpuMs(pid: number): { main: number; all: number } {
  try {
    let all = 0;
    let main = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      all += ns;
      if (Number(tid) === pid) main = ns;
    }
    return { main: main / 1e6, all: all / 1e6 };
  } catch {
    return { main: NaN, all: NaN };
  }
}
