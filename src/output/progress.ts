import type { CloneProgress } from '../clone/clone.js';
import { formatBytes } from './writer.js';

/**
 * The one-line progress of a dump copy, redrawn in place on a terminal (stderr):
 * `Copying 412 MB of ~1.0 GB (public.orders)`. The total is the source's size on disk, which a
 * dump's text only approximates, hence the `~`. Cut to the terminal's width: a line that wraps
 * cannot be redrawn with a carriage return.
 */
export function copyProgressLine(progress: CloneProgress, columns?: number): string {
  const total = progress.totalBytes ? ` of ~${formatBytes(progress.totalBytes)}` : '';
  const line = `Copying ${formatBytes(progress.bytes)}${total}${progress.table ? ` (${progress.table})` : ''}`;
  return columns && columns > 1 && line.length >= columns ? `${line.slice(0, columns - 2)}…` : line;
}

/** Carriage return and erase-line: the prefix that redraws, and alone clears, the progress line. */
export const CLEAR_LINE = '\r\x1b[K';
