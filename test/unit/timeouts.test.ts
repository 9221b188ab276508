import { describe, expect, it } from 'vitest';
import { pgDumpArgs } from '../../src/clone/dump.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';
import { DEFAULT_TIMEOUTS, describeLimit, sessionTimeouts, timeoutStatements } from '../../src/postgres/timeouts.js';

describe('session timeouts', () => {
  it('defaults, each overridable by its variable; 0 means no limit', () => {
    expect(sessionTimeouts({})).toEqual(DEFAULT_TIMEOUTS);
    expect(sessionTimeouts({ AYB_LOCK_TIMEOUT: '5s', AYB_STATEMENT_TIMEOUT: '0', AYB_IDLE_IN_TRANSACTION_TIMEOUT: '1m' }))
      .toEqual({ lock: 5000, statement: 0, idleInTransaction: 60_000 });
  });

  it('limits are SET after connecting (poolers refuse them as startup parameters), in whole milliseconds', () => {
    expect(timeoutStatements({ lock: 1500, statement: 0, idleInTransaction: 60_000 }))
      .toBe('SET lock_timeout = 1500; SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 60000');
    expect(timeoutStatements({ statement: 0 })).toBe('SET statement_timeout = 0');
  });

  it('a bad value names its variable', () => {
    expect(() => sessionTimeouts({ AYB_LOCK_TIMEOUT: '5' })).toThrow(/AYB_LOCK_TIMEOUT "5" has no unit/);
  });

  it('hints name the variable and its default', () => {
    expect(describeLimit('lock')).toBe('AYB_LOCK_TIMEOUT (default 30s)');
  });

  it("pg_dump gets --lock-wait-timeout in ms when there is a limit, and none without", () => {
    const info = parseConnInfo('postgres://app@h/db');
    const base = { keepOwnership: true, keepPrivileges: true, excludeTables: [] };
    expect(pgDumpArgs(info, { ...base, lockWaitTimeoutMs: 30_000 })).toContain('--lock-wait-timeout=30000');
    expect(pgDumpArgs(info, { ...base, lockWaitTimeoutMs: 0 }).join(' ')).not.toContain('lock-wait');
  });
});
