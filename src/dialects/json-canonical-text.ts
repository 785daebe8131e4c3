// The canonical text of a parsed container (what stringifyJson(v, { sortKeys: true }) writes for
// it), put together while the request parser reads it, from its members' source texts: no map of
// texts by container and no walk over the parsed tree afterwards. The parser (json-text.ts) keeps
// it only for a container whose source text is compact (TextKeeper below: no whitespace, no
// escape, no duplicate or integer-like member name; the source text is then what stringifyJson
// writes, RpcElement.paramsText), and only where it differs from that source text: an object
// whose members are not in sorted order, or a container holding such an object.
//
// Cache safety: this text is key material. It is exact because, in a compact text, every string is
// written by stringifyJson as its characters between quotes (no escape; the fatal UTF-8 decoder
// leaves no lone surrogate), a number as its literal, a literal as itself: so each member's
// canonical text is its source text, or the canonical text of the container it is. Only the order
// of an object's members changes, to the default sort order of their names (UTF-16 code units;
// names are unique in a compact text). Checked against stringifyJson on random texts
// (test/dialects/json-canonical-text.test.ts).

/**
 * The parser's side of the compact rule: it reports what it reads (whitespace, escapes, member
 * names) and the keeper counts what makes a source text differ from stringifyJson's. A counter,
 * not a flag: a container's text is compact when nothing loose was counted between its opening
 * and its closing.
 */
export class TextKeeper {
  /** Counts what makes a text differ from stringifyJson's: whitespace, escapes, duplicate members. */
  loose = 0;

  /** Whitespace between tokens, or an escape in a string: stringifyJson writes neither. */
  looseText(): void {
    this.loose++;
  }

  /**
   * A member name read in an object; repeated: the object already has it. A repeated member is
   * dropped by stringifyJson (the last value, at the first one's place), and integer-like names
   * are listed first by Object.keys (so written first): in both cases the source text is not the
   * object's, wherever the member stands (`{"a":1,"c":2,"b":3,"c":4}` has its repeat after a
   * smaller name).
   */
  member(key: string, repeated: boolean): void {
    if (repeated || isDigit(key.charCodeAt(0))) this.loose++;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Members read so far in the open containers of one document, innermost last. */
export class CanonicalTexts {
  private readonly names: string[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** A member's canonical text when it differs from s[start, end), else undefined. */
  private readonly canons: Array<string | undefined> = [];
  private top = 0;
  /** The order of a closing object's members, when it has a few (reused: one object closes at a time). */
  private readonly fewOrder: number[] = [];
  /**
   * Set by closeArray when it makes a text: that text up to its last element (the `[` or `,`
   * before it included), when the last element is a string (written as its source text); else
   * undefined. Key material replaces a trailing block param there (rpc-params-text.ts).
   */
  lastHead: string | undefined = undefined;

  /** Where a container's members start (give it back to closeObject/closeArray/drop). */
  open(): number {
    return this.top;
  }

  /** A member read: its name ('' in an array), its source text s[start, end), its canonical text if it differs. */
  add(name: string, start: number, end: number, canon: string | undefined): void {
    const i = this.top++;
    this.names[i] = name;
    this.starts[i] = start;
    this.ends[i] = end;
    this.canons[i] = canon;
  }

  /** Forgets the members of a container whose text is not compact. */
  drop(base: number): void {
    this.top = base;
  }

  /** A compact array closes: its canonical text when a member's differs from its source, else undefined. */
  closeArray(s: string, base: number): string | undefined {
    const end = this.top;
    this.top = base;
    this.lastHead = undefined;
    if (!this.anyCanon(base, end)) return undefined;
    let out = '[';
    for (let i = base; i < end - 1; i++) out += this.textOf(s, i) + ',';
    const last = end - 1;
    if (this.canons[last] === undefined && s.charCodeAt(this.starts[last] as number) === 0x22) this.lastHead = out;
    return out + this.textOf(s, last) + ']';
  }

  /**
   * A compact object closes: its canonical text when its members are out of order (`unsorted`)
   * or a member's text differs from its source, else undefined.
   */
  closeObject(s: string, base: number, unsorted: boolean): string | undefined {
    const end = this.top;
    this.top = base;
    if (!unsorted && !this.anyCanon(base, end)) return undefined;
    const order = this.sortedOrder(base, end);
    let out = '{';
    for (let k = 0; k < end - base; k++) {
      const i = order[k] as number;
      out += (k > 0 ? ',"' : '"') + (this.names[i] as string) + '":' + this.textOf(s, i);
    }
    return out + '}';
  }

  private anyCanon(base: number, end: number): boolean {
    for (let i = base; i < end; i++) if (this.canons[i] !== undefined) return true;
    return false;
  }

  private textOf(s: string, i: number): string {
    return this.canons[i] ?? s.slice(this.starts[i], this.ends[i]);
  }

  /**
   * The members' indices by name (as Array.prototype.sort orders strings), in the first end - base
   * places of the array returned; by insertion for a few, into an array kept for that (a new
   * array per object was the largest allocation of a batch's canonical texts).
   */
  private sortedOrder(base: number, end: number): number[] {
    const names = this.names;
    const n = end - base;
    if (n > 8) {
      const order: number[] = [];
      for (let i = base; i < end; i++) order.push(i);
      return order.sort((a, b) => ((names[a] as string) < (names[b] as string) ? -1 : 1));
    }
    const order = this.fewOrder;
    for (let i = 0; i < n; i++) order[i] = base + i;
    for (let i = 1; i < n; i++) {
      const x = order[i] as number;
      const name = names[x] as string;
      let j = i - 1;
      for (; j >= 0 && (names[order[j] as number] as string) > name; j--) order[j + 1] = order[j] as number;
      order[j + 1] = x;
    }
    return order;
  }
}
