/** A key (or, for `rows`, a whole row) as the text of each column; null for SQL NULL. */
export type KeyTuple = readonly (string | null)[];

/** Keys as the script writer and the counts read them: how many, and each in turn (an array is one). */
export interface Keys extends Iterable<KeyTuple> {
  readonly length: number;
}

/** Bytes per packed chunk of a KeyList (a key longer than that gets a chunk of its own). */
const CHUNK_BYTES = 64 * 1024;
/** How many of the smallest keys a KeyList keeps aside, in order, for examples (the API's --limit goes to 9999). */
export const EXAMPLES_KEPT = 10_000;
const NEWLINE = 10;

/**
 * An append-only list of the keys that differ, packed: each key is a line of JSON (an array of the key
 * columns' texts; JSON never holds a raw newline) in buffers of CHUNK_BYTES outside the JavaScript heap,
 * a few bytes per key instead of an array and a string object each, so a million differing integer keys
 * take some 12 MB, and nothing of them is left for the garbage collector to move or mark. Keeps the
 * EXAMPLES_KEPT smallest keys aside, sorted, for examples (the list itself is in the order the keys
 * were found).
 */
export class KeyList implements Keys {
  private readonly chunks: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;
  private smallest: KeyTuple[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(key: KeyTuple): void {
    this.pushJson(JSON.stringify(key), key);
  }

  /**
   * A key already as a JSON array of its columns' texts (the server's `to_json`, or JSON.stringify):
   * stored as it is; `key` is the same key parsed, when the caller has it.
   */
  pushJson(json: string, key: KeyTuple = JSON.parse(json) as KeyTuple): void {
    const bytes = Buffer.byteLength(json);
    if (this.current === undefined || this.used + bytes + 1 > this.current.length) {
      if (this.current !== undefined) this.chunks.push(this.current.subarray(0, this.used));
      this.current = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes + 1));
      this.used = 0;
    }
    this.current.write(json, this.used);
    this.current[this.used + bytes] = NEWLINE;
    this.used += bytes + 1;
    this.count++;
    this.keepIfSmall(key);
  }

  *[Symbol.iterator](): Iterator<KeyTuple> {
    for (const line of this.json()) yield JSON.parse(line) as KeyTuple;
  }

  /** Each key's JSON text, in the order pushed (keys pushed while iterating are not met). */
  *json(): Generator<string> {
    let left = this.count;
    const chunks = this.current === undefined ? this.chunks : [...this.chunks, this.current.subarray(0, this.used)];
    for (const chunk of chunks) {
      let start = 0;
      while (left > 0 && start < chunk.length) {
        const end = chunk.indexOf(NEWLINE, start);
        yield chunk.toString('utf8', start, end);
        start = end + 1;
        left--;
      }
    }
  }

  /** The `n` smallest keys, in the order of compareTuples (beyond EXAMPLES_KEPT, by sorting them all). */
  first(n: number): KeyTuple[] {
    // More than are kept aside, of a list that holds more: all of them sorted (what was asked for costs memory).
    if (n > EXAMPLES_KEPT && this.count > EXAMPLES_KEPT) return [...this].sort(compareTuples).slice(0, n);
    return this.smallest.slice(0, n);
  }

  private keepIfSmall(key: KeyTuple): void {
    const kept = this.smallest;
    if (kept.length >= EXAMPLES_KEPT && compareTuples(key, kept[kept.length - 1]!) >= 0) return;
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

/**
 * Keys as JSON arrays of `size` keys each (`[["1"],["2"]]`), the last shorter: a KeyList's lines as
 * they are stored, without parsing them; other lists stringified.
 */
export function* jsonBatches(size: number, ...lists: readonly Keys[]): Generator<{ json: string; count: number }> {
  let batch: string[] = [];
  for (const keys of lists) {
    const lines = keys instanceof KeyList ? keys.json() : (function* () { for (const k of keys) yield JSON.stringify(k); })();
    for (const line of lines) {
      batch.push(line);
      if (batch.length >= size) {
        yield { json: `[${batch.join(',')}]`, count: batch.length };
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield { json: `[${batch.join(',')}]`, count: batch.length };
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

const INTEGER_TEXT = /^-?\d+$/;

/** Keys in a stable order for output: numerically when they look like integers, else by text. */
export function compareTuples(x: KeyTuple, y: KeyTuple): number {
  for (let i = 0; i < x.length; i++) {
    const p = x[i] ?? '';
    const q = y[i] ?? '';
    if (p === q) continue;
    if (INTEGER_TEXT.test(p) && INTEGER_TEXT.test(q)) {
      // Same sign and length: the text orders them (no BigInt needed); else the numbers do.
      if (p.length === q.length && (p[0] === '-') === (q[0] === '-')) return (p < q) === (p[0] !== '-') ? -1 : 1;
      return BigInt(p) < BigInt(q) ? -1 : 1;
    }
    return p < q ? -1 : 1;
  }
  return 0;
}
