import type { CloneProgress } from '../clone/clone.js';
import { formatBytes } from './writer.js';

/**
 * The one-line progress of a dump copy, redrawn in place on a terminal (stderr):
 * `Copying 412 MB of ~1.0 GB (orders)`, then `… (indexing orders)`. Both
 * sizes are on disk, tables and indexes, so the first grows towards the second (which a copy only
 * approaches, hence the `~`). Cut to the terminal's width: a line that wraps cannot be redrawn with
 * a carriage return.
 */
export function copyProgressLine(progress: CloneProgress, columns?: number): string {
  const total = progress.totalBytes ? ` of ~${formatBytes(progress.totalBytes)}` : '';
  const what = progress.table ? ` (${progress.phase === 'index' ? 'indexing ' : ''}${progress.table})` : '';
  const line = `Copying ${formatBytes(progress.bytes)}${total}${what}`;
  return columns && columns > 1 && line.length >= columns ? `${line.slice(0, columns - 2)}…` : line;
}

/** Carriage return and erase-line: the prefix that redraws, and alone clears, the progress line. */
export const CLEAR_LINE = '\r\x1b[K';
