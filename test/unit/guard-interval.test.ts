import { describe, expect, it } from 'vitest';
import { guardIntervalMs, guardWindowMs } from '../../src/postgres/connection-guard.js';

describe('connection guard timing (AYB_GUARD_INTERVAL, AYB_GUARD_WINDOW)', () => {
  it('tries every second for 15 minutes unless told otherwise', () => {
    expect(guardIntervalMs({})).toBe(1_000);
    expect(guardWindowMs({})).toBe(15 * 60_000);
  });

  it('takes the interval as a duration or a number of milliseconds', () => {
    expect(guardIntervalMs({ AYB_GUARD_INTERVAL: '5s' })).toBe(5_000);
    expect(guardIntervalMs({ AYB_GUARD_INTERVAL: '200ms' })).toBe(200);
    expect(guardIntervalMs({ AYB_GUARD_INTERVAL: ' 1m30s ' })).toBe(90_000);
  });

  it('refuses an interval that is not a duration (exit 2, invalid_duration)', () => {
    expect(() => guardIntervalMs({ AYB_GUARD_INTERVAL: 'often' })).toThrow(expect.objectContaining({ code: 'invalid_duration', exitCode: 2 }));
    expect(() => guardIntervalMs({ AYB_GUARD_INTERVAL: '200' })).toThrow(/AYB_GUARD_INTERVAL "200" has no unit/);
  });
});
