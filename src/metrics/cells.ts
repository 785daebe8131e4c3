// Hot-path metric series as plain number cells, folded into their prom-client metric whenever it is
// read (the metric's collect hook runs on every scrape and every get()). prom-client validates and
// hashes the label object on every inc and observe (3–5 µs, label hashing in histogram.js); a cell
// is found through one Map level per label value (no key string is built per event) and updated as
// numbers. The label values are the same bounded ones the metric would have been given, and what
// the metric exposes after the fold is what prom-client would have exposed for the same events.
import type client from 'prom-client';

type Labels<L extends string> = Partial<Record<L, string>>;

/** Cells by label values, one Map per label position; `all` keeps them in creation order. */
class CellTree<C> {
  private readonly root = new Map<string, unknown>();
  readonly all: C[] = [];

  constructor(private readonly depth: number, private readonly make: (values: readonly string[]) => C) {}

  /** The label values and cell of the last find: steady traffic asks for one series again and again. */
  private readonly lastValues: string[] = [];
  private lastCell: C | undefined;

  find(values: readonly string[]): C {
    const last = this.lastCell;
    if (last !== undefined && this.isLast(values)) return last;
    const cell = this.lookup(values);
    for (let i = 0; i < this.depth; i++) this.lastValues[i] = values[i] as string;
    this.lastCell = cell;
    return cell;
  }

  private isLast(values: readonly string[]): boolean {
    for (let i = 0; i < this.depth; i++) if (values[i] !== this.lastValues[i]) return false;
    return true;
  }

  private lookup(values: readonly string[]): C {
    let level = this.root;
    const last = this.depth - 1;
    for (let i = 0; i < last; i++) {
      const value = values[i] as string;
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = values[last] as string;
    let cell = level.get(value) as C | undefined;
    if (cell === undefined) {
      cell = this.make(values);
      level.set(value, cell);
      this.all.push(cell);
    }
    return cell;
  }
}

function labelsOf<L extends string>(names: readonly L[], values: readonly string[]): Labels<L> {
  const labels: Labels<L> = {};
  names.forEach((name, i) => { labels[name] = values[i]; });
  return labels;
}

/** Runs `before` ahead of the metric's own collect hook (if it has one) and `onReset` ahead of its reset. */
function hookInto(metric: object, before: () => void, onReset: () => void): void {
  const own = metric as { collect?: () => unknown; reset: () => void };
  const collect = own.collect;
  own.collect = () => {
    before();
    return collect?.call(metric);
  };
  const reset = own.reset;
  // Events counted before a reset are dropped with it, as prom-client drops what it holds.
  own.reset = () => {
    onReset();
    reset.call(metric);
  };
}

// ---- counters ---------------------------------------------------------------------------------

interface CounterCell<L extends string> {
  labels: Labels<L>;
  n: number;
}

export class CounterCells<L extends string> {
  private readonly cells: CellTree<CounterCell<L>>;

  constructor(private readonly counter: client.Counter<L>, names: readonly L[]) {
    this.cells = new CellTree(names.length, (values) => ({ labels: labelsOf(names, values), n: 0 }));
    hookInto(counter, () => this.flush(), () => this.cells.all.forEach((c) => { c.n = 0; }));
  }

  /**
   * Adds n to the series with these label values, in the order of the counter's labelNames. The
   * array is read, never kept (a caller may refill one array per event).
   */
  inc(values: readonly string[], n = 1): void {
    this.cells.find(values).n += n;
  }

  /** The cell of these label values, for a hot path that adds to it directly (found once, kept). */
  cell(values: readonly string[]): { n: number } {
    return this.cells.find(values);
  }

  flush(): void {
    for (const cell of this.cells.all) {
      if (cell.n === 0) continue;
      this.counter.inc(cell.labels, cell.n);
      cell.n = 0;
    }
  }
}

// ---- gauges -----------------------------------------------------------------------------------

/** An unlabelled gauge kept as a plain number, set on the gauge when it is read. */
export class GaugeCell {
  value = 0;

  constructor(gauge: client.Gauge) {
    hookInto(gauge, () => gauge.set(this.value), () => undefined);
  }
}

// ---- histograms -------------------------------------------------------------------------------

/** The parts of a prom-client (15.x) Histogram the fold writes into: one entry per label set. */
interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}
interface HistogramInternals {
  hashMap: Record<string, HistogramEntry>;
  upperBounds: readonly number[];
  zero(labels: Record<string, string>): void;
}

interface HistogramCell<L extends string> {
  labels: Labels<L>;
  /** Observations since the last fold, per upper bound (the last slot: above every bound). */
  counts: number[];
  count: number;
  /**
   * The series' sum as prom-client would hold it: the entry's sum at the last fold plus every
   * observation since, added in order, so the exposed sum is bit-for-bit prom-client's.
   */
  sum: number;
  /** The entry's sum at the last fold. */
  base: number;
  /** Where the entry was found at the last fold (the hashMap object and the key in it). */
  map?: Record<string, HistogramEntry>;
  key?: string;
}

export class HistogramCells<L extends string> {
  private readonly cells: CellTree<HistogramCell<L>>;
  private readonly hist: HistogramInternals;
  private readonly bounds: readonly number[];

  constructor(histogram: client.Histogram<L>, private readonly names: readonly L[]) {
    const hist = histogram as unknown as HistogramInternals;
    if (typeof hist.hashMap !== 'object' || !Array.isArray(hist.upperBounds) || typeof hist.zero !== 'function') {
      throw new Error('prom-client Histogram internals changed: HistogramCells cannot fold into it');
    }
    this.hist = hist;
    this.bounds = hist.upperBounds;
    const slots = this.bounds.length + 1;
    this.cells = new CellTree(names.length, (values) => ({ labels: labelsOf(names, values), counts: new Array<number>(slots).fill(0), count: 0, sum: 0, base: 0 }));
    hookInto(histogram, () => this.flush(), () => this.clear());
  }

  /** Observes v for the series with these label values, in the order of the histogram's labelNames (read, never kept). */
  observe(values: readonly string[], v: number): void {
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${String(v)}`);
    const cell = this.cells.find(values);
    // prom-client's bucket: the first upper bound v is not above.
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > (bounds[i] as number)) i++;
    (cell.counts[i] as number)++;
    cell.count++;
    cell.sum += v;
  }

  flush(): void {
    for (const cell of this.cells.all) {
      if (cell.count === 0) continue;
      const entry = this.entryFor(cell);
      for (let i = 0; i < this.bounds.length; i++) {
        const n = cell.counts[i] as number;
        if (n === 0) continue;
        entry.bucketValues[String(this.bounds[i])] = (entry.bucketValues[String(this.bounds[i])] ?? 0) + n;
      }
      entry.count += cell.count;
      // Someone else observed into the same series since the last fold (a direct observe()): add ours.
      entry.sum = entry.sum === cell.base ? cell.sum : entry.sum + (cell.sum - cell.base);
      cell.counts.fill(0);
      cell.count = 0;
      cell.sum = cell.base = entry.sum;
    }
  }

  private clear(): void {
    for (const cell of this.cells.all) {
      cell.counts.fill(0);
      cell.count = 0;
      cell.sum = cell.base = 0;
      cell.map = cell.key = undefined;
    }
  }

  /** The prom-client entry of the cell's label set, created (at zero) when the histogram has none. */
  private entryFor(cell: HistogramCell<L>): HistogramEntry {
    const map = this.hist.hashMap;
    if (cell.map === map && cell.key !== undefined) {
      const known = map[cell.key];
      if (known !== undefined) return known;
    }
    let key = this.keyOf(map, cell.labels);
    if (key === undefined) {
      this.hist.zero({ ...cell.labels } as Record<string, string>);
      key = this.keyOf(map, cell.labels);
    }
    const entry = key === undefined ? undefined : map[key];
    if (key === undefined || entry === undefined) throw new Error('prom-client Histogram internals changed: no entry after zero()');
    cell.map = map;
    cell.key = key;
    return entry;
  }

  private keyOf(map: Record<string, HistogramEntry>, labels: Labels<L>): string | undefined {
    for (const key in map) {
      const e = map[key] as HistogramEntry;
      if (this.names.every((n) => e.labels[n] === labels[n]) && Object.keys(e.labels).length === this.names.length) return key;
    }
    return undefined;
  }
}
