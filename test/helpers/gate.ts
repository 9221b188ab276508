import type { ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { TestRunner } from 'vitest';
import type { TestCluster } from './cluster.js';

export interface WaitOptions {
  /**
   * Asked between checks: a reason when what is awaited can no longer happen (the process that was
   * to do it has exited, say). The wait then fails at once, with that reason.
   */
  readonly unless?: () => string | undefined | Promise<string | undefined>;
  /** A time limit the condition has of its own (a server given 60 s to stop); without one, the wait may last as long as the test. */
  readonly timeoutMs?: number;
}

/**
 * Polls `check` until it returns a truthy value; fails naming `what` otherwise. The limit comes from
 * what is awaited, not from a clock that a loaded machine outruns: the wait ends when `unless` says
 * it can no longer succeed, or when the test itself would time out (a moment before, so the failure
 * names the wait). A number as third argument is a time limit (`{ timeoutMs }`).
 */
export async function waitUntil<T>(what: string, check: () => Promise<T>, limit: number | WaitOptions = {}): Promise<NonNullable<T>> {
  const options: WaitOptions = typeof limit === 'number' ? { timeoutMs: limit } : limit;
  const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : testDeadline();
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    const reason = await options.unless?.();
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
    if (Date.now() > deadline) {
      throw new Error(options.timeoutMs !== undefined ? `timed out after ${options.timeoutMs} ms waiting for ${what}` : `timed out waiting for ${what}: the test's time is up`);
    }
    await delay(50);
  }
}

/** When the running test would time out, less a margin for the wait to fail first and name itself; none in a hook, whose own timeout ends it. */
export function testDeadline(): number {
  const test = TestRunner.getCurrentTest();
  const started = test?.result?.startTime;
  if (!test || started === undefined || !(test.timeout > 0)) return Number.POSITIVE_INFINITY;
  return started + test.timeout - Math.min(2_000, test.timeout / 10);
}

/** For `unless`: a reason once `child` (a process the test started, an execa result) has exited. */
export function whileRunning(child: ChildProcess, name = 'the process'): () => string | undefined {
  return () => (child.exitCode !== null || child.signalCode !== null ? `${name} exited (${child.signalCode ?? `code ${child.exitCode}`})` : undefined);
}

/**
 * Holds ACCESS EXCLUSIVE on a table in an open transaction: a dump clone's pg_dump (which takes
 * ACCESS SHARE on every table it dumps) waits at this gate until `release()`, so a create stays in
 * flight exactly as long as a test wants, without sleeps. `release()` may be called twice.
 */
export function holdGate(cluster: TestCluster, database: string, table: string): Promise<{ release(): Promise<void> }> {
  return openTransactionHolding(cluster, database, `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
}

/**
 * Holds a lock on the database object `database` (COMMENT ON DATABASE, from a session on
 * `postgres`, in an open transaction): CREATE DATABASE … TEMPLATE of it and ALTER DATABASE … RENAME
 * of it wait at this gate until `release()`, while ALTER DATABASE … ALLOW_CONNECTIONS does not.
 */
export function holdDatabaseGate(cluster: TestCluster, database: string): Promise<{ release(): Promise<void> }> {
  return openTransactionHolding(cluster, 'postgres', `COMMENT ON DATABASE "${database}" IS 'gate'`);
}

async function openTransactionHolding(cluster: TestCluster, database: string, statement: string): Promise<{ release(): Promise<void> }> {
  const { conn } = cluster;
  const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database, application_name: 'test-gate' });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  await client.query(statement);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/**
 * Resolves once `count` of ayb's pg_dumps are blocked on a lock (the gate). Pass `{ unless:
 * whileRunning(child) }` to fail at once when the ayb process that was to get there has exited.
 */
export function dumpWaitingAtGate(cluster: TestCluster, count = 1, options: WaitOptions = {}): Promise<true> {
  return waitUntil(count === 1 ? 'pg_dump to wait at the gate' : `${count} pg_dumps to wait at the gate`, async () => {
    const { rowCount } = await cluster.query(
      "SELECT 1 FROM pg_stat_activity WHERE application_name = 'ayb-pg_dump' AND wait_event_type = 'Lock'",
      [],
      'postgres',
    );
    return (rowCount ?? 0) >= count || undefined;
  }, options);
}
