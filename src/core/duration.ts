import { UsageError } from './errors.js';

/**
 * Durations as people write them for TTLs: a number and a unit, or several in a row
 * (`30m`, `1h`, `7d`, `2w`, `1h30m`, `1d12h`). Units: s, m, h, d, w; each at most once, largest first,
 * so `1h30m` is accepted and the ambiguous `30m1h` or `1m1m` are not.
 */
const UNITS = [
  ['w', 7 * 24 * 3600_000],
  ['d', 24 * 3600_000],
  ['h', 3600_000],
  ['m', 60_000],
  ['s', 1000],
] as const;

const UNIT_MS: Readonly<Record<string, number>> = Object.fromEntries(UNITS);

/** A century: far beyond any sensible TTL, and well inside what a Date and timestamptz can hold. */
export const MAX_DURATION_MS = 100 * 365 * 24 * 3600_000;

const EXAMPLES = 'use a number and a unit (s, m, h, d, w), e.g. 30m, 12h, 7d, 2w or 1h30m';

/** Parses a duration into milliseconds. Throws a UsageError (exit 2) naming `what` (e.g. "--ttl"). */
export function parseDuration(text: string, what = 'duration'): number {
  const input = text.trim().toLowerCase();
  // `what` may quote the value already (`the time "-2x"`): then it is not quoted twice.
  const subject = /"$/.test(what) ? what : `${what} "${text}"`;
  if (input === '') throw new UsageError(`${what} is empty`, { hint: EXAMPLES }, 'invalid_duration');
  if (/^\d+$/.test(input)) {
    throw new UsageError(`${subject} has no unit`, { hint: `${EXAMPLES}; for ${input} hours write ${input}h` }, 'invalid_duration');
  }
  const parts = [...input.matchAll(/(\d+)([a-z]+)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== input) {
    throw new UsageError(`${subject} is not a duration`, { hint: EXAMPLES }, 'invalid_duration');
  }
  let total = 0;
  let lastRank = -1;
  for (const [, amount, unit] of parts) {
    const rank = UNITS.findIndex(([u]) => u === unit);
    if (rank < 0) {
      throw new UsageError(`${subject} has an unknown unit "${unit}"`, { hint: EXAMPLES }, 'invalid_duration');
    }
    if (rank <= lastRank) {
      throw new UsageError(`${subject} repeats a unit or lists them out of order`, {
        hint: 'write the largest unit first, each unit once, e.g. 1d12h or 1h30m',
      }, 'invalid_duration');
    }
    lastRank = rank;
    total += Number(amount) * UNIT_MS[unit!]!;
  }
  if (total === 0) throw new UsageError(`${subject} is zero`, { hint: EXAMPLES }, 'invalid_duration');
  if (total > MAX_DURATION_MS) {
    throw new UsageError(`${subject} is longer than 100 years`, { hint: 'use --never for a branch that should not expire' }, 'invalid_duration');
  }
  return total;
}

/** The expiry time `ttl` from `now`, or null without a ttl (the branch never expires). */
export function ttlExpiry(ttl: string | undefined, what = '--ttl', now: Date = new Date()): Date | null {
  return ttl === undefined ? null : new Date(now.getTime() + parseDuration(ttl, what));
}

/** Whether `text` parses as a duration (for config validation). */
export function isDuration(text: string): boolean {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

/** A compact rendering, largest units first, at most two of them: `2d 3h`, `45m`, `30s`. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  // Past ~60 days, days stop being readable (`2532d 7h`): months and years, as people say them.
  if (abs >= LONG_MS) {
    const days = Math.floor(abs / DAY_MS);
    const years = Math.floor(days / 365);
    const months = Math.floor((days - years * 365) / 30);
    const rest = days - years * 365 - months * 30;
    const text = years > 0 ? [`${years}y`, months > 0 ? `${months}mo` : ''] : [`${months}mo`, rest > 0 ? `${rest}d` : ''];
    return `${ms < 0 ? '-' : ''}${text.filter(Boolean).join(' ')}`;
  }
  let rest = Math.floor(abs / 1000) * 1000;
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (unit === 'w') continue;
    const amount = Math.floor(rest / size);
    rest -= amount * size;
    if (parts.length === 0 && amount === 0) continue;
    parts.push(amount > 0 ? `${amount}${unit}` : '');
    if (parts.length === 2) break;
  }
  const text = parts.filter(Boolean).join(' ') || '0s';
  return ms < 0 ? `-${text}` : text;
}

const DAY_MS = 24 * 3600_000;
/** From 60 days on, formatDuration says months (30 days) and years (365 days). */
const LONG_MS = 60 * DAY_MS;

/**
 * Parses an absolute time for `--expires-at`: ISO 8601, a date (`2025-03-01`, midnight UTC) or a date
 * and time with an optional offset (`2025-03-01T18:00`, `2025-03-01 18:00:00+02:00`, `…Z`). A time
 * without an offset is the local time of this machine, as in `date -d`.
 */
export function parseTimestamp(text: string, what = '--expires-at'): Date {
  const input = text.trim().replace(' ', 'T');
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i.exec(input);
  // JavaScript rolls 2025-02-30 over into March and rejects a bare "+02" offset; do neither.
  const [, year, month, day, offset] = match ?? [];
  const calendar = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  const validDay = match !== null && calendar.getUTCMonth() === Number(month) - 1 && calendar.getUTCDate() === Number(day);
  const when = new Date(offset && /^[+-]\d{2}$/.test(offset) ? `${input}:00` : input);
  if (!validDay || Number.isNaN(when.getTime())) {
    throw new UsageError(`${what} "${text}" is not an ISO 8601 time`, {
      hint: 'use e.g. 2030-01-31, 2030-01-31T18:00Z or 2030-01-31T18:00:00+02:00',
    }, 'invalid_time');
  }
  return when;
}
