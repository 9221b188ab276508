import { describe, expect, it } from 'vitest';
import type { BranchRow } from '../../src/core/records.js';
import { expiryFromFlags, pruneReasons } from '../../src/branching/expiry.js';
import { AybError } from '../../src/core/errors.js';

const now = new Date('2030-06-01T12:00:00Z');
const HOUR = 3600_000;

function row(changes: Partial<BranchRow>): BranchRow {
  return {
    id: '1', name: 'x', kind: 'branch', snapshot: null, source_database: 'app', branch_database: 'ayb_branch_x', status: 'ready', strategy: 'template',
    copy_method: 'file_copy', parent: null, expires_at: null, error_message: null,
    created_at: new Date(now.getTime() - HOUR), updated_at: now, creator_pid: null, creator_host: null, masked: false, temp_databases: [],
    ...changes,
  };
}

describe('expiryFromFlags', () => {
  it('counts --ttl from now', () => {
    expect(expiryFromFlags({ ttl: '2h' }, now)?.toISOString()).toBe('2030-06-01T14:00:00.000Z');
  });
  it('takes a future --expires-at as given', () => {
    expect(expiryFromFlags({ expiresAt: '2031-01-01T00:00Z' }, now)?.toISOString()).toBe('2031-01-01T00:00:00.000Z');
  });
  it('refuses a past --expires-at (exit 2, naming --allow-past) unless allowPast is given', () => {
    for (const expiresAt of ['2020-01-01T00:00Z', '2030-06-01T12:00Z']) {
      let error: unknown;
      try {
        expiryFromFlags({ expiresAt }, now);
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'expiry_in_past', exitCode: 2, hint: expect.stringContaining('--allow-past') });
    }
    expect(expiryFromFlags({ expiresAt: '2020-01-01T00:00Z', allowPast: true }, now)?.toISOString()).toBe('2020-01-01T00:00:00.000Z');
  });
  it('is null for --never and undefined when nothing was said', () => {
    expect(expiryFromFlags({ never: true }, now)).toBeNull();
    expect(expiryFromFlags({}, now)).toBeUndefined();
  });
  it('refuses two at once, and a bad duration, as usage errors', () => {
    for (const flags of [{ ttl: '1h', never: true }, { ttl: '1h', expiresAt: '2030-01-01' }, { ttl: 'soon' }]) {
      let error: unknown;
      try {
        expiryFromFlags(flags, now);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(AybError);
      expect((error as AybError).exitCode).toBe(2);
    }
  });
});

describe('pruneReasons', () => {
  it('selects a branch whose expiry has come, and nothing else by default', () => {
    expect(pruneReasons(row({ expires_at: now }), {}, now)).toEqual(['expired']);
    expect(pruneReasons(row({ expires_at: new Date(now.getTime() + 1) }), {}, now)).toEqual([]);
    expect(pruneReasons(row({ status: 'failed', created_at: new Date(0) }), {}, now)).toEqual([]);
  });
  it('adds age and failure only when asked', () => {
    expect(pruneReasons(row({}), { olderThan: HOUR }, now)).toEqual(['older_than']);
    expect(pruneReasons(row({}), { olderThan: HOUR + 1 }, now)).toEqual([]);
    expect(pruneReasons(row({ status: 'failed' }), { failed: true }, now)).toEqual(['failed']);
    expect(pruneReasons(row({ status: 'creating' }), { failed: true }, now)).toEqual(['failed']);
    expect(pruneReasons(row({ status: 'ready' }), { failed: true }, now)).toEqual([]);
    expect(pruneReasons(row({ status: 'failed', expires_at: new Date(0) }), { failed: true }, now)).toEqual(['expired', 'failed']);
  });
});
