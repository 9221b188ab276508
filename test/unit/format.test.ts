import { describe, expect, it } from 'vitest';
import { expiresIn, formatBytes } from '../../src/output/format.js';

// The formatters the terminal and the dashboard share (the dashboard's bundle imports output/format.ts).
describe('shared formatters', () => {
  it('formatBytes: powers of 1024, one decimal below 10, undefined for an unknown size', () => {
    expect([0, 1023, 1024, 1536, 10 * 1024, 5 * 1024 ** 3].map((n) => formatBytes(n))).toEqual(['0 B', '1023 B', '1.0 kB', '1.5 kB', '10 kB', '5.0 GB']);
    expect(formatBytes(undefined)).toBeUndefined();
  });

  it('expiresIn: never, in the future, or expired ago, relative to now', () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    expect(expiresIn(null, now)).toBe('never');
    expect(expiresIn(new Date(now + (2 * 86400 + 3 * 3600) * 1000), now)).toBe('in 2d 3h');
    expect(expiresIn(new Date(now - 5 * 60 * 1000), now)).toBe('expired 5m ago');
  });
});
