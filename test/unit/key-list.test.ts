import { describe, expect, it } from 'vitest';
import { compareTuples, concatKeys, EXAMPLES_KEPT, firstKeys, jsonBatches, KeyList, type KeyTuple } from '../../src/datadiff/key-list.js';

describe('KeyList (the data diff\'s packed differing keys)', () => {
  it('gives back every key, in the order pushed, across pieces, NULLs and odd text included', () => {
    const list = new KeyList();
    const keys: KeyTuple[] = [];
    for (let i = 0; i < 10_000; i++) keys.push(i % 7 === 0 ? [String(i), null] : [String(i), `line\nbreak "q" ${i} é`]);
    for (const k of keys) list.push(k);
    expect(list.length).toBe(keys.length);
    expect([...list]).toEqual(keys);
    expect([...concatKeys(list, [['x', 'y']])]).toHaveLength(keys.length + 1);
  });

  it('keeps the smallest keys for examples, in key order, whatever the order pushed', () => {
    const list = new KeyList();
    const n = EXAMPLES_KEPT + 5000;
    for (let i = n; i > 0; i--) list.push([String(i * 3 % n - 100)]);
    // Judged by BigInt: the smallest, sorted numerically.
    const sorted = [...list].map((k) => BigInt(k[0]!)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).map((x) => [String(x)]);
    expect(firstKeys(list, 25)).toEqual(sorted.slice(0, 25));
    // More than the examples kept aside (a --limit above 10,000): every key is sorted for them.
    expect(list.first(EXAMPLES_KEPT + 1)).toEqual(sorted.slice(0, EXAMPLES_KEPT + 1));
  });

  it('orders integer text numerically (signs and lengths) and other text by text', () => {
    const pairs: [string, string][] = [['-12', '-34'], ['-5', '3'], ['9', '10'], ['12', '34'], ['-100', '-99'], ['007', '8']];
    for (const [p, q] of pairs) {
      const want = BigInt(p) < BigInt(q) ? -1 : 1;
      expect(compareTuples([p], [q]), `${p} vs ${q}`).toBe(want);
      expect(compareTuples([q], [p]), `${q} vs ${p}`).toBe(-want);
    }
    expect(compareTuples(['a'], ['b'])).toBe(-1);
    expect(compareTuples(['1', 'b'], ['1', 'a'])).toBe(1);
    expect(compareTuples(['1'], ['1'])).toBe(0);
  });

  it('takes keys as JSON text (the server\'s to_json spacing too), a key bigger than a chunk included, and gives them back in batches of JSON arrays', () => {
    const list = new KeyList();
    const big = 'x'.repeat(100_000);
    const keys: KeyTuple[] = [['1', 'a'], ['2', null], [big, 'é\n"'], ['4', '\\']];
    list.pushJson('["1", "a"]');
    list.pushJson('["2",null]');
    list.push(keys[2]!);
    list.pushJson(JSON.stringify(keys[3]));
    expect([...list]).toEqual(keys);
    expect(list.length).toBe(4);
    // Judged by JSON.parse of each batch: every key once, in order, 3 to a batch.
    const batches = [...jsonBatches(3, list, [['5', 'e']])];
    expect(batches.map((b) => b.count)).toEqual([3, 2]);
    expect(batches.flatMap((b) => JSON.parse(b.json) as KeyTuple[])).toEqual([...keys, ['5', 'e']]);
    expect(firstKeys(list, 2)).toEqual([keys[0], keys[1]]);
  });
});
