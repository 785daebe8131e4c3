// Purge by generation. A purge answered 200 must mean "nothing from before is served again", but
// work that began before it can finish after it: an upstream fetch whose leader stores its answer,
// an L2 read that copies a value into L1. Each such piece of work notes the generation it began
// in; when it ends, anything it would store under a key a later purge covered is dropped. Purges
// are remembered by prefix ('' = all), a bounded list: when it overflows, the oldest entries merge
// into one purge-all, which only costs extra misses, never a resurrected entry.
const MAX_REMEMBERED = 256;

interface Purge {
  generation: number;
  prefix: string;
}

export class PurgeGenerations {
  private current = 0;
  private purges: Purge[] = [];

  /** The generation work starting now belongs to. */
  get generation(): number {
    return this.current;
  }

  /** Records a purge of prefix; call it before the stores are purged. */
  purged(prefix: string): void {
    this.current++;
    this.purges.push({ generation: this.current, prefix });
    if (this.purges.length > MAX_REMEMBERED) {
      const dropped = this.purges.splice(0, this.purges.length - MAX_REMEMBERED / 2);
      const newest = dropped[dropped.length - 1] as Purge;
      this.purges.unshift({ generation: newest.generation, prefix: '' });
    }
  }

  /** Did a purge covering key happen after work of generation `since` began? */
  purgedSince(since: number, key: string): boolean {
    if (since === this.current) return false;
    for (let i = this.purges.length - 1; i >= 0; i--) {
      const p = this.purges[i] as Purge;
      if (p.generation <= since) return false;
      if (key.startsWith(p.prefix)) return true;
    }
    return false;
  }
}
