/** A key (or, for `rows`, a whole row) as the text of each column; null for SQL NULL. */
export type KeyTuple = readonly (string | null)[];

/** Keys as the script writer and the counts read them: how many, and each in turn (an array is one). */
export interface Keys extends Iterable<KeyTuple> {
  readonly length: number;
}

/** Keys per packed piece of a KeyList. */
const PIECE = 4096;
/** How many of the smallest keys a KeyList keeps aside, in order, for examples (the API's --limit goes to 9999). */
export const EXAMPLES_KEPT = 10_000;

/**
 * An append-only list of the keys that differ, packed: each piece of PIECE keys is one string of
 * JSON lines (JSON never holds a raw newline), a few bytes per key instead of an array and a string
 * object each, so a million differing integer keys take some 12 MB. Keeps the EXAMPLES_KEPT smallest
 * keys aside, sorted, for examples (the list itself is in the order the keys were found).
 */
export class KeyList implements Keys {
  private readonly pieces: string[] = [];
  private current: string[] = [];
  private smallest: KeyTuple[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(key: KeyTuple): void {
    this.current.push(JSON.stringify(key));
    this.count++;
    if (this.current.length >= PIECE) {
      this.pieces.push(this.current.join('\n'));
      this.current = [];
    }
    this.keepIfSmall(key);
  }

  *[Symbol.iterator](): Iterator<KeyTuple> {
    for (const piece of this.pieces) for (const line of piece.split('\n')) yield JSON.parse(line) as KeyTuple;
    // Copied: keys pushed while iterating are not met.
    for (const line of [...this.current]) yield JSON.parse(line) as KeyTuple;
  }

  /** The `n` smallest keys, in the order of compareTuples (beyond EXAMPLES_KEPT, by sorting them all). */
  first(n: number): KeyTuple[] {
    // More than are kept aside, of a list that holds more: all of them sorted (what was asked for costs memory).
    if (n > EXAMPLES_KEPT && this.count > EXAMPLES_KEPT) return [...this].sort(compareTuples).slice(0, n);
    return this.smallest.slice(0, n);
  }

  private keepIfSmall(key: KeyTuple): void {
    const kept = this.smallest;
    if (kept.length >= EXAMPLES_KEPT && compareTuples(key, kept.at(-1)!) >= 0) return;
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareTuples(kept[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    kept.splice(lo, 0, key);
    if (kept.length > EXAMPLES_KEPT) kept.pop();
  }
}

/** The first `n` keys in key order: of a KeyList its smallest kept, of an array (already sorted) its head. */
export function firstKeys(keys: Keys, n: number): KeyTuple[] {
  if (keys instanceof KeyList) return keys.first(n);
  const out: KeyTuple[] = [];
  for (const key of keys) {
    if (out.length >= n) break;
    out.push(key);
  }
  return out;
}

/** Several key lists one after the other, without copying them into one. */
export function* concatKeys(...lists: readonly Keys[]): Generator<KeyTuple> {
  for (const list of lists) yield* list;
}

/** Keys in a stable order for output: numerically when they look like integers, else by text. */
export function compareTuples(x: KeyTuple, y: KeyTuple): number {
  for (let i = 0; i < x.length; i++) {
    const [p, q] = [x[i] ?? '', y[i] ?? ''];
    if (p === q) continue;
    if (/^-?\d+$/.test(p) && /^-?\d+$/.test(q)) {
      // Same sign and length: the text orders them (no BigInt needed); else the numbers do.
      if (p.length === q.length && (p[0] === '-') === (q[0] === '-')) return (p < q) === (p[0] !== '-') ? -1 : 1;
      return BigInt(p) < BigInt(q) ? -1 : 1;
    }
    return p < q ? -1 : 1;
  }
  return 0;
}
