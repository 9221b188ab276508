/** Pure helpers of the benchmark: statistics and the printed table. */

export interface ContenderResult {
  readonly name: string;
  /** Wall times of each run, in milliseconds. */
  readonly times: readonly number[];
  /** Peak RSS of the ayb process per run, in bytes (absent for the baseline, which has none). */
  readonly peakRss?: readonly number[];
  /** Bytes of disk each branch added, per run (only measured on a filesystem of its own). */
  readonly diskAdded?: readonly number[];
  /** Strategy and copy method ayb recorded for the branch. */
  readonly recorded?: string;
  /** Why a contender did not run. */
  readonly skipped?: string;
  /**
   * Per round, this contender's time over the baseline's time in the same round. Their median is
   * steadier than a ratio of medians on a machine whose speed drifts (both runs of a round see
   * about the same machine).
   */
  readonly pairedRatios?: readonly number[];
}

/**
 * The order of the contenders in round `round` (0-based): a balanced Latin square (Williams design).
 * Over n rounds (2n when n is odd) every contender runs once in each position and right after each
 * other contender exactly once. What a run leaves behind (a gigabyte restored and dropped just
 * before, say) then weighs on every contender alike, instead of always on the one that follows it.
 */
export function roundOrder(round: number, n: number): number[] {
  // The first row is 0, 1, n-1, 2, n-2, 3, …; each later row adds one (mod n).
  const first = Array.from({ length: n }, (_, j) => (j === 0 ? 0 : j % 2 === 1 ? (j + 1) / 2 : n - j / 2));
  const row = first.map((value) => (value + round) % n);
  // For odd n the mirrored square completes the balance.
  return n % 2 === 1 && Math.floor(round / n) % 2 === 1 ? row.reverse() : row;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatSeconds(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatMb(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—';
  return `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/**
 * "How many times faster than the baseline": baseline median / contender median, so 15× means
 * fifteen times faster and 0.95× means 5% slower.
 */
export function speedup(baselineMs: number, ms: number): string {
  if (!Number.isFinite(baselineMs) || !Number.isFinite(ms) || ms <= 0) return '—';
  const ratio = baselineMs / ms;
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

/** A Markdown table (pastes into the README as is): one row per contender. */
export function resultsTable(results: readonly ContenderResult[], baselineName: string | undefined, options: { disk?: boolean; versus?: string } = {}): string {
  const baseline = results.find((r) => r.name === baselineName && !r.skipped);
  const baselineMs = baseline ? median(baseline.times) : Number.NaN;
  const versus = options.versus ?? 'baseline';
  const header = ['contender', 'recorded as', 'median wall time', 'fastest – slowest', 'runs', `speed vs ${versus}`, `time / ${versus}`, 'ayb peak RSS'];
  // With paired ratios the two ratio columns are medians of per-round ratios, else ratios of medians.
  if (options.disk) header.push('disk added per branch');
  const rows = results.map((r) => {
    if (r.skipped) {
      const cells = [r.name, '—', 'not run', '—', '0', '—', '—', '—'];
      if (options.disk) cells.push('—');
      cells[1] = r.skipped;
      return cells;
    }
    const ms = median(r.times);
    const ratio = r.pairedRatios && r.pairedRatios.length > 0 ? median(r.pairedRatios) : ms / baselineMs;
    const cells = [
      r.name,
      r.recorded ?? '—',
      formatSeconds(ms),
      // The spread says how far to trust the median: on a shared VM one command's runs vary by ±15%.
      `${formatSeconds(Math.min(...r.times))} – ${formatSeconds(Math.max(...r.times))}`,
      String(r.times.length),
      Number.isFinite(ratio) && ratio > 0 ? speedup(1, ratio) : '—',
      Number.isFinite(ratio) ? `${ratio.toFixed(3)}` : '—',
      r.peakRss && r.peakRss.length > 0 ? formatMb(Math.max(...r.peakRss)) : 'n/a',
    ];
    if (options.disk) cells.push(r.diskAdded && r.diskAdded.length > 0 ? formatMb(median(r.diskAdded)) : '—');
    return cells;
  });
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
