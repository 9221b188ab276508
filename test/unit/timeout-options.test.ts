import { describe, expect, it } from 'vitest';
import { timeoutOptions } from '../../src/postgres/timeouts.js';

describe('timeoutOptions: ayb\'s limits in the start-up packet', () => {
  it('names each limit as a -c setting, in milliseconds, with idle_session_timeout = 0 when asked', () => {
    expect(timeoutOptions({ lock: 30_000, statement: 120_000, idleInTransaction: 60_000 }, true)).toBe(
      '-c lock_timeout=30000 -c statement_timeout=120000 -c idle_in_transaction_session_timeout=60000 -c idle_session_timeout=0',
    );
  });

  it('leaves idle_session_timeout out for a server older than 14, and never sends a negative or fractional limit', () => {
    expect(timeoutOptions({ lock: -5, statement: 1500.7, idleInTransaction: 0 }, false)).toBe(
      '-c lock_timeout=0 -c statement_timeout=1500 -c idle_in_transaction_session_timeout=0',
    );
  });
});
