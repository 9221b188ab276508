import { describe, expect, it } from 'vitest';
import { formatDuration, isDuration, parseDuration, parseTimestamp } from '../../src/core/duration.js';
import { AybError } from '../../src/core/errors.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function failure(fn: () => unknown): AybError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AybError);
    return error as AybError;
  }
  throw new Error('expected a failure');
}

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['30m', 30 * MIN],
    ['1h', HOUR],
    ['7d', 7 * DAY],
    ['2w', 14 * DAY],
    ['1h30m', 90 * MIN],
    ['1d12h', 36 * HOUR],
    ['1w2d3h4m5s', 9 * DAY + 3 * HOUR + 4 * MIN + 5000],
    [' 2D ', 2 * DAY],
    ['90m', 90 * MIN],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', /is empty/],
    ['7', /has no unit/],
    ['d', /is not a duration/],
    ['1.5h', /is not a duration/],
    ['-1h', /is not a duration/],
    ['1h 30m', /is not a duration/],
    ['1y', /unknown unit "y"/],
    ['3mo', /unknown unit "mo"/],
    ['30m1h', /out of order/],
    ['1h1h', /repeats a unit/],
    ['0h', /is zero/],
    ['0d0h', /is zero/],
    ['101000d', /longer than 100 years/],
  ])('rejects %j with a usage error', (text, message) => {
    const error = failure(() => parseDuration(text, '--ttl'));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('invalid_duration');
    expect(error.message).toMatch(message);
    expect(error.message.startsWith('--ttl')).toBe(true);
    expect(error.hint).toBeTruthy();
  });

  it('isDuration agrees with parseDuration', () => {
    expect(isDuration('7d')).toBe(true);
    expect(isDuration('seven days')).toBe(false);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [45_000, '45s'],
    [90 * MIN, '1h 30m'],
    [2 * DAY + 3 * HOUR + 5 * MIN, '2d 3h'],
    [2 * DAY + 5 * MIN, '2d'],
    [14 * DAY, '14d'],
    [59 * DAY + 23 * HOUR, '59d 23h'],
    [-(3 * HOUR), '-3h'],
    // Past 60 days: months (30 days) and years (365 days), not 2532d 7h (issue 27).
    [60 * DAY, '2mo'],
    [75 * DAY + 5 * HOUR, '2mo 15d'],
    [2532 * DAY + 7 * HOUR, '6y 11mo'],
    [365 * DAY, '1y'],
    [-(400 * DAY), '-1y 1mo'],
  ])('renders %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('parseDuration messages', () => {
  it('quote the value once, also when the subject already quotes it (issue 27)', () => {
    expect(() => parseDuration('2x', 'the time "-2x"')).toThrow(/^the time "-2x" has an unknown unit "x"$/);
    expect(() => parseDuration('2x', '--ttl')).toThrow(/^--ttl "2x" has an unknown unit "x"$/);
  });
});

describe('parseTimestamp', () => {
  it.each([
    ['2030-01-31', '2030-01-31T00:00:00.000Z'],
    ['2030-01-31T18:00Z', '2030-01-31T18:00:00.000Z'],
    ['2030-01-31T18:00:00+02:00', '2030-01-31T16:00:00.000Z'],
    ['2030-01-31 18:00:00+0200', '2030-01-31T16:00:00.000Z'],
    ['2030-01-31T18:00:00-05', '2030-01-31T23:00:00.000Z'],
    ['2030-01-31T18:00:00.250Z', '2030-01-31T18:00:00.250Z'],
  ])('parses %s', (text, iso) => {
    expect(parseTimestamp(text).toISOString()).toBe(iso);
  });

  it('reads a time without an offset as local time', () => {
    expect(parseTimestamp('2030-01-31T18:00').getTime()).toBe(new Date(2030, 0, 31, 18, 0).getTime());
  });

  it.each(['tomorrow', '2030-02-30', '2030-13-01', '31/01/2030', '2030-01-31T25:00Z', '1700000000', ''])('rejects %j', (text) => {
    const error = failure(() => parseTimestamp(text));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('invalid_time');
    expect(error.message).toMatch(/--expires-at .* is not an ISO 8601 time/);
  });
});
