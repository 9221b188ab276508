import { formatDuration } from '../core/duration.js';

/**
 * Formatters the terminal and the dashboard share, so that sizes and expiries read alike in both.
 * The dashboard's browser bundle (tools/build/bundle.ts) imports this module: nothing here may use
 * Node or the DOM.
 */

/** `512 B`, `3.4 MB`, `12 GB`: powers of 1024, one decimal below 10; undefined for an unknown size. */
export function formatBytes(bytes: number | undefined): string | undefined {
  if (bytes === undefined) return undefined;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** `never`, `in 2d 3h` or `expired 5m ago`, relative to `now`. */
export function expiresIn(expiresAt: Date | null, now: number = Date.now()): string {
  if (!expiresAt) return 'never';
  const left = expiresAt.getTime() - now;
  return left > 0 ? `in ${formatDuration(left)}` : `expired ${formatDuration(-left)} ago`;
}
