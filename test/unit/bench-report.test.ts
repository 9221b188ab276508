import { describe, expect, it } from 'vitest';
import { baselineDumpArgs, baselineRestoreArgs } from '../../tools/bench/baseline.js';
import { datasetShape } from '../../tools/bench/dataset.js';
import { phasesOf } from '../../tools/bench/history-bench.js';
import { median, resultsTable, roundOrder, speedup } from '../../tools/bench/report.js';
import type { ConnInfo } from '../../src/postgres/conninfo.js';

describe('benchmark helpers', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('states speed as baseline time over contender time', () => {
    expect(speedup(15_000, 1_000)).toBe('15.0×');
    expect(speedup(10_000, 10_500)).toBe('0.95×');
    expect(speedup(Number.NaN, 1)).toBe('—');
  });

  it('prints a Markdown table with the baseline, skipped contenders and peak RSS', () => {
    const table = resultsTable(
      [
        { name: 'baseline (AYB)', times: [10_000, 12_000, 11_000] },
        { name: 'ayb --strategy template', times: [700, 800, 600], peakRss: [80 * 2 ** 20, 90 * 2 ** 20], recorded: 'template (file_copy)' },
        { name: 'ayb --strategy dump', times: [], skipped: 'no pg_dump 18' },
      ],
      'baseline (AYB)',
    ).split('\n');
    expect(table[0]).toBe('| contender | recorded as | median wall time | fastest – slowest | runs | speed vs baseline | time / baseline | ayb peak RSS |');
    expect(table[2]).toBe('| baseline (AYB) | — | 11.0 s | 10.0 s – 12.0 s | 3 | 1.00× | 1.000 | n/a |');
    expect(table[3]).toBe('| ayb --strategy template | template (file_copy) | 0.70 s | 0.60 s – 0.80 s | 3 | 15.7× | 0.064 | 90 MB |');
    expect(table[4]).toBe('| ayb --strategy dump | no pg_dump 18 | not run | — | 0 | — | — | — |');
  });

  it('uses the median of per-round ratios when the rounds are paired', () => {
    const table = resultsTable(
      [
        { name: 'baseline (AYB)', times: [10_000, 20_000, 12_000], pairedRatios: [1, 1, 1] },
        // Medians alone say 11/12 = 0.917; paired, the contender was slower in two rounds of three.
        { name: 'ayb --strategy dump', times: [11_000, 9_000, 13_000], pairedRatios: [1.1, 0.45, 1.0833] },
      ],
      'baseline (AYB)',
    ).split('\n');
    expect(table[3]).toBe('| ayb --strategy dump | — | 11.0 s | 9.00 s – 13.0 s | 3 | 0.92× | 1.083 | n/a |');
  });

  it('names what the ratios are against, and leaves a reference row without one (the mask suite)', () => {
    const table = resultsTable(
      [
        { name: 'template', times: [1_000] },
        { name: 'template + mask in place', times: [4_000], pairedRatios: [4], peakRss: [70 * 2 ** 20] },
      ],
      undefined,
      { versus: 'unmasked' },
    ).split('\n');
    expect(table[0]).toContain('| speed vs unmasked | time / unmasked |');
    expect(table[2]).toBe('| template | — | 1.00 s | 1.00 s – 1.00 s | 1 | — | — | n/a |');
    expect(table[3]).toBe('| template + mask in place | — | 4.00 s | 4.00 s – 4.00 s | 1 | 0.25× | 4.000 | 70 MB |');
  });

  it("reads the three phases of a point-in-time branch from the lines ayb prints", () => {
    const stderr = [
      'Restoring base backup 2026-12-02T07-00-00.000Z into a temporary cluster …',
      'Replaying WAL up to 2026-12-02T07:30:00.123456Z …',
      'Restored 2026-12-02T07-00-00.000Z in 12.3s, replayed WAL to 2026-12-02T07:30:00.123456Z in 456.7s',
      'Copied main as of 2026-12-02T07:30:00.123456Z in 89.0s',
    ].join('\n');
    expect(phasesOf(stderr)).toEqual({ restoreS: 12.3, replayS: 456.7, copyS: 89 });
    expect(() => phasesOf('Created branch "pit"')).toThrow(/did not print its phase timings/);
  });

  it('reproduces the argv AYB gives pg_dump and psql, with no password in them', () => {
    const conn: ConnInfo = { host: '127.0.0.1', port: 5432, user: 'u', password: 'sekret', database: 'app', params: {} };
    const dump = baselineDumpArgs(conn);
    expect(dump.slice(1)).toEqual(['--format=plain', '--no-owner', '--no-privileges']);
    expect(dump[0]).toMatch(/^--dbname=postgres:\/\/u@127\.0\.0\.1:5432\/app$/);
    expect(baselineRestoreArgs({ ...conn, database: 'b' }).slice(1)).toEqual(['--quiet', '--no-psqlrc']);
    expect([...dump, ...baselineRestoreArgs(conn)].join(' ')).not.toContain('sekret');
  });

  it('scales the dataset with the requested size', () => {
    const small = datasetShape(100);
    const big = datasetShape(1000);
    expect(big.orders).toBe(small.orders * 10);
    expect(big.orderItems).toBe(big.orders * 3);
  });

  it.each([2, 3, 5, 6, 7])('orders %i contenders so each follows each other equally often, and each holds every position', (n) => {
    const rounds = n % 2 === 0 ? n : 2 * n;
    const follows = new Map<string, number>();
    const positions = Array.from({ length: n }, () => new Set<number>());
    for (let round = 0; round < rounds; round++) {
      const order = roundOrder(round, n);
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      order.forEach((contender, position) => positions[contender]!.add(position));
      for (let i = 1; i < n; i++) follows.set(`${order[i - 1]}>${order[i]}`, (follows.get(`${order[i - 1]}>${order[i]}`) ?? 0) + 1);
    }
    // Every ordered pair of different contenders, equally often (once per n rounds).
    expect(follows.size).toBe(n * (n - 1));
    expect(new Set(follows.values())).toEqual(new Set([rounds / n]));
    for (const held of positions) expect(held.size).toBe(n);
  });
});
