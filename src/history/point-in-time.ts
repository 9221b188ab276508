import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';

/** `main@<time>`: a database as it was at a moment, resolved. */
export interface PointInTime {
  /** The database named before `@`; only `main` has history. */
  readonly source: 'main';
  readonly at: Date;
  /**
   * The moment as PostgreSQL reads it (recovery_target_time), keeping the microseconds an ISO time
   * may carry (a JavaScript Date keeps milliseconds only, which could miss a commit in between).
   */
  readonly time: string;
  /** Recorded as the branch's source: `main@<time>`. */
  readonly label: string;
}

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(Z|[+-]\d{2}(?::?\d{2})?)$/i;
const EXAMPLES = 'write main@<ISO 8601 time with a zone> or main@-<duration>, e.g. main@2026-11-30T14:00Z or main@-2h';

/** True when `from` names a moment (`main@-2h`) rather than a branch, snapshot or URL. */
export function isPointInTime(from: string | undefined): boolean {
  return from !== undefined && /^[a-z0-9][a-z0-9_-]*@/i.test(from) && !from.includes('://');
}

/**
 * Parses `<source>@<time>` as Neon's CLI writes it: `main@2026-11-30T14:00Z` (ISO 8601, zone
 * required: a time without one would depend on where ayb runs) or `main@-2h` (a duration ago,
 * counted from `now`).
 */
export function parsePointInTime(text: string, now: Date = new Date()): PointInTime {
  const at = text.indexOf('@');
  if (at < 0) throw new UsageError(`"${text}" names no moment`, { hint: EXAMPLES }, 'invalid_point_in_time');
  const source = text.slice(0, at);
  const when = text.slice(at + 1).trim();
  if (source !== 'main') {
    throw new UsageError(`"${source}@…": only main has history`, {
      hint: `branches and snapshots keep no history; ${EXAMPLES}`,
    }, 'invalid_point_in_time');
  }
  if (when.startsWith('-')) {
    const ago = parseDuration(when.slice(1), `${text.trim()}: the duration before now`);
    const moment = new Date(now.getTime() - ago);
    const time = moment.toISOString();
    return { source, at: moment, time, label: `main@${time}` };
  }
  const match = ISO.exec(when);
  if (!match) {
    throw new UsageError(`"${when}" is neither an ISO 8601 time with a zone nor a duration ago`, { hint: EXAMPLES }, 'invalid_point_in_time');
  }
  const [, date, clock, zone] = match;
  const offset = zone!.toUpperCase() === 'Z' ? 'Z' : zone!.length === 3 ? `${zone}:00` : zone!.includes(':') ? zone! : `${zone!.slice(0, 3)}:${zone!.slice(3)}`;
  const time = `${date}T${clock}${offset}`;
  const [hms, fraction = ''] = clock!.split('.');
  const parsed = Date.parse(`${date}T${hms!.length === 5 ? `${hms}:00` : hms}.${fraction.padEnd(3, '0').slice(0, 3)}${offset}`);
  if (Number.isNaN(parsed) || !sameCalendarDay(date!, clock!, offset, parsed)) {
    throw new UsageError(`"${when}" is not a valid time`, { hint: EXAMPLES }, 'invalid_point_in_time');
  }
  return { source, at: new Date(parsed), time, label: `main@${time}` };
}

/** The moment in microseconds since the epoch: `at` keeps milliseconds, `time` may carry three digits more. */
export function momentMicros(at: PointInTime): number {
  const digits = /\.(\d{1,6})/.exec(at.time)?.[1] ?? '';
  return at.at.getTime() * 1000 + Number(digits.padEnd(6, '0').slice(3, 6));
}

/** Date.parse rolls 2026-02-30 over to March; a calendar date that does not exist is an error. */
function sameCalendarDay(date: string, clock: string, offset: string, parsed: number): boolean {
  const minutes = offset === 'Z' ? 0 : (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const local = new Date(parsed + minutes * 60_000).toISOString();
  return local.slice(0, 10) === date && local.slice(11, 16) === clock.slice(0, 5);
}

/**
 * recovery_target_time as the server reads it at startup, before it has loaded time zone
 * abbreviations: `Z` is one of those, so UTC is written as +00:00 (and the `T` as a space).
 */
export function recoveryTargetTime(at: PointInTime): string {
  return at.time.replace('T', ' ').replace(/Z$/i, '+00:00');
}
