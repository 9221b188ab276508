import { formatDuration, parseDuration } from '../core/duration.js';
import type { Client } from './client.js';

/**
 * The limits on ayb's own sessions (the control table on main, the maintenance session on
 * `postgres`) and on pg_dump's table locks, so a lock held by someone else becomes a clear error
 * instead of a hang. In milliseconds; 0 means no limit. Each can be overridden in the environment
 * (`AYB_LOCK_TIMEOUT=5s`), which tests use to keep their waits short.
 *
 * - `lock`: how long one statement (or pg_dump's LOCK TABLE) waits for a lock someone else holds.
 * - `statement`: how long one statement of ayb's bookkeeping may run. Never applied to the
 *   statements that legitimately take long: the copy itself (CREATE DATABASE … TEMPLATE, the dump
 *   stream), DROP DATABASE, and the waits for ayb's own advisory locks (see withoutTimeouts).
 * - `idleInTransaction`: how long a session may sit in an open transaction doing nothing.
 */
export interface SessionTimeouts {
  readonly lock: number;
  readonly statement: number;
  readonly idleInTransaction: number;
}

export const TIMEOUT_VARIABLES = {
  lock: 'AYB_LOCK_TIMEOUT',
  statement: 'AYB_STATEMENT_TIMEOUT',
  idleInTransaction: 'AYB_IDLE_IN_TRANSACTION_TIMEOUT',
} as const;

export const DEFAULT_TIMEOUTS: SessionTimeouts = { lock: 30_000, statement: 120_000, idleInTransaction: 120_000 };

/** The limits in force: the defaults, each overridden by its variable (a duration such as 30s or 2m; `0` for none). */
export function sessionTimeouts(env: NodeJS.ProcessEnv = process.env): SessionTimeouts {
  const read = (key: keyof SessionTimeouts): number => {
    const text = env[TIMEOUT_VARIABLES[key]]?.trim();
    if (!text) return DEFAULT_TIMEOUTS[key];
    return text === '0' ? 0 : parseDuration(text, TIMEOUT_VARIABLES[key]);
  };
  return { lock: read('lock'), statement: read('statement'), idleInTransaction: read('idleInTransaction') };
}

const SETTINGS: Readonly<Record<keyof SessionTimeouts, string>> = {
  lock: 'lock_timeout',
  statement: 'statement_timeout',
  idleInTransaction: 'idle_in_transaction_session_timeout',
};

/**
 * The SET statements that put `timeouts` (or the listed ones) in force on a session: for lifting
 * and restoring a limit. A new session gets them in its start-up packet instead (timeoutOptions).
 */
export function timeoutStatements(timeouts: Partial<SessionTimeouts>): string {
  return (Object.keys(timeouts) as (keyof SessionTimeouts)[])
    .map((key) => `SET ${SETTINGS[key]} = ${Math.max(0, Math.trunc(timeouts[key]!))}`)
    .join('; ');
}

/**
 * The limits as libpq's start-up `options` (`-c name=value …`): in force from the session's first
 * statement without a round trip of their own, over any ALTER ROLE / ALTER DATABASE setting (a
 * client's start-up settings outrank those), and what `RESET ALL` goes back to. With `noIdleTimeout`,
 * `idle_session_timeout = 0` too (PostgreSQL 14+; an older server refuses the connection for naming
 * it, and client.ts connects again without it).
 *
 * ayb's sessions already send `options` (client.ts: DateStyle, IntervalStyle), so a connection pooler
 * that refuses start-up parameters refused them before; one set to ignore `options`
 * (PgBouncer's `ignore_startup_parameters`) would leave the session without these limits.
 */
export function timeoutOptions(timeouts: SessionTimeouts, noIdleTimeout: boolean): string {
  const limits = (Object.keys(SETTINGS) as (keyof SessionTimeouts)[]).map((key) => `-c ${SETTINGS[key]}=${Math.max(0, Math.trunc(timeouts[key]))}`);
  if (noIdleTimeout) limits.push('-c idle_session_timeout=0');
  return limits.join(' ');
}

/**
 * ayb's own sessions hold its locks (a branch's, `serving`, `refusing`) or its place in a delete,
 * and sit idle while the work runs elsewhere (a dump, a DROP on the other session, `ayb start`
 * serving for hours): a server's `idle_session_timeout` (PostgreSQL 14+) must not end them, or a
 * lock is gone and the next command takes live work for interrupted. A no-op on older servers.
 */
export const NO_IDLE_SESSION_TIMEOUT_SQL = `SELECT set_config('idle_session_timeout', '0', false)
  FROM (SELECT current_setting('server_version_num')::int AS version) AS server WHERE version >= 140000`;

/**
 * Runs `fn` on `client` (a session with sessionTimeouts() in force) without the statement limit
 * (`statement`: the copy, a DROP DATABASE, which may rightly take long but still give up on a stuck
 * lock) or without any limit (`all`: a wait for one of ayb's own advisory locks, which lasts as long
 * as the work it waits for), then puts the limits back.
 */
export async function withoutTimeouts<T>(client: Client, which: 'statement' | 'all', fn: () => Promise<T>): Promise<T> {
  const limits = sessionTimeouts();
  const lifted: Partial<SessionTimeouts> = which === 'all' ? { statement: 0, lock: 0 } : { statement: 0 };
  const restored: Partial<SessionTimeouts> = which === 'all' ? { statement: limits.statement, lock: limits.lock } : { statement: limits.statement };
  await client.query(timeoutStatements(lifted));
  try {
    return await fn();
  } finally {
    await client.query(timeoutStatements(restored)).catch(() => undefined);
  }
}

/**
 * For a lock_timeout's hint: the sessions that hold table locks, oldest transaction first. The one
 * in the way is among them; the waiter (ayb's statement, or pg_dump) is gone by the time it is read.
 */
export const FIND_LOCK_HOLDERS_SQL = "SELECT pid, usename, application_name, state, xact_start, query FROM pg_stat_activity WHERE pid IN (SELECT pid FROM pg_locks WHERE granted AND locktype = 'relation') AND pid <> pg_backend_pid() ORDER BY xact_start";

/** "AYB_LOCK_TIMEOUT (default 30s)", for hints. */
export function describeLimit(key: keyof SessionTimeouts): string {
  return `${TIMEOUT_VARIABLES[key]} (default ${formatDuration(DEFAULT_TIMEOUTS[key])})`;
}
