import { describe, expect, it } from 'vitest';
import { pgOptions } from '../../src/clone/dump.js';

describe('PGOPTIONS of the restore session', () => {
  it('adds one -c per setting after the caller’s own options', () => {
    expect(pgOptions({ synchronous_commit: 'off', maintenance_work_mem: '262144kB' })).toBe('-c synchronous_commit=off -c maintenance_work_mem=262144kB');
    expect(pgOptions({ synchronous_commit: 'off' }, ' -c geqo=off ')).toBe('-c geqo=off -c synchronous_commit=off');
  });

  it('escapes spaces and backslashes the way libpq splits PGOPTIONS', () => {
    expect(pgOptions({ 'app.note': 'a b\\c' })).toBe('-c app.note=a\\ b\\\\c');
  });

  it('is absent when there is nothing to set', () => {
    expect(pgOptions({})).toBeUndefined();
    expect(pgOptions({}, '  ')).toBeUndefined();
  });
});
