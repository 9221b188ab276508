import { readdirSync, readFileSync } from 'node:fs';
import type { TestCluster } from './cluster.js';
import { holdGate, waitUntil, type WaitOptions, whileRunning } from './gate.js';

// The lock gate lives in gate.ts; re-exported so a failure test finds every probe in one place.
export { holdGate, waitUntil, whileRunning };

/**
 * Ways to catch a dump clone in the act, without sleeping and hoping: a source whose restore is
 * slow on purpose, a lock that holds pg_dump at the gate, and probes of the server's sessions and
 * of the processes ayb started.
 */

/**
 * Fills `database` so that restoring it with pg_dump | psql is slow on purpose: table `a_slow` has
 * `rows` rows and a CHECK whose function sleeps per row — but only in a database named
 * ayb_branch_*, so loading the source is fast and only the branch's COPY crawls. How long it sleeps
 * is read from the setting `ayb_test.ms_per_row` (see `setRestoreSpeed`), else `msPerRow`. Table
 * `z_bulk` (dumped after it) holds a few MB, so pg_dump is still writing while psql crawls.
 */
export async function fillSlowSource(cluster: TestCluster, database: string, options: { rows: number; msPerRow: number; bulkRows?: number }): Promise<void> {
  await cluster.query(
    `CREATE FUNCTION slow_ok(v int) RETURNS boolean LANGUAGE plpgsql AS $$
     BEGIN
       IF current_database() LIKE 'ayb_branch_%' THEN
         PERFORM pg_sleep(coalesce(nullif(current_setting('ayb_test.ms_per_row', true), ''), '${options.msPerRow}')::numeric / 1000);
       END IF;
       RETURN true;
     END $$;
     CREATE TABLE a_slow (id int PRIMARY KEY CHECK (slow_ok(id)));
     INSERT INTO a_slow SELECT g FROM generate_series(1, ${options.rows}) g;
     CREATE TABLE z_bulk (id int, payload text);
     INSERT INTO z_bulk SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, ${options.bulkRows ?? 10_000}) g;`,
    [],
    database,
  );
}

/** Sets how many ms `fillSlowSource`'s restore sleeps per row, for sessions that start from now on. */
export async function setRestoreSpeed(cluster: TestCluster, msPerRow: number): Promise<void> {
  await cluster.query(`ALTER ROLE ${cluster.conn.user} SET ayb_test.ms_per_row = '${msPerRow}'`, [], 'postgres');
}

/**
 * Adds a table whose rows are refused by any ayb_branch_* database: restoring it fails halfway with
 * a real PostgreSQL error (a CHECK violation), after earlier tables were already copied.
 */
export async function fillPoisonedSource(cluster: TestCluster, database: string): Promise<void> {
  await cluster.query(
    `CREATE TABLE a_fine (id int PRIMARY KEY);
     INSERT INTO a_fine SELECT generate_series(1, 1000);
     CREATE FUNCTION only_outside_branches(v int) RETURNS boolean LANGUAGE sql
       AS $$ SELECT current_database() NOT LIKE 'ayb_branch_%' $$;
     CREATE TABLE b_poisoned (id int CHECK (only_outside_branches(id)));
     INSERT INTO b_poisoned SELECT generate_series(1, 10);
     CREATE TABLE c_after (id int);`,
    [],
    database,
  );
}

export interface ToolSession {
  readonly pid: number;
  readonly application_name: string;
  readonly datname: string;
  readonly state: string | null;
  readonly wait_event_type: string | null;
  readonly query: string;
}

/** The server sessions of ayb's pg_dump and psql children. */
export async function toolSessions(cluster: TestCluster): Promise<ToolSession[]> {
  const { rows } = await cluster.query<ToolSession>(
    `SELECT pid, application_name, datname, state, wait_event_type, query FROM pg_stat_activity
      WHERE application_name IN ('ayb-pg_dump', 'ayb-psql') ORDER BY application_name`,
    [],
    'postgres',
  );
  return rows;
}

/** How many advisory locks are held: ayb holds one per branch it is creating or deleting. */
export async function advisoryLocksHeld(cluster: TestCluster): Promise<number> {
  const { rows } = await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted", [], 'postgres');
  return rows[0]!.n;
}

/** Waits until psql is restoring the rows of `table` (the clone is really under way). */
export function waitForRestoreOf(cluster: TestCluster, table: string, options: WaitOptions = {}): Promise<ToolSession> {
  return waitUntil(`psql to restore ${table}`, async () =>
    (await toolSessions(cluster)).find((s) => s.application_name === 'ayb-psql' && s.query.startsWith(`COPY public.${table} `)), options);
}

/** Waits until pg_dump is blocked on a lock (held by `holdGate`). */
export function waitForDumpAtGate(cluster: TestCluster, options: WaitOptions = {}): Promise<ToolSession> {
  return waitUntil('pg_dump to wait at the gate', async () =>
    (await toolSessions(cluster)).find((s) => s.application_name === 'ayb-pg_dump' && s.wait_event_type === 'Lock'), options);
}

export async function branchDatabases(cluster: TestCluster): Promise<string[]> {
  const { rows } = await cluster.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_branch\\_%' ORDER BY datname",
    [],
    'postgres',
  );
  return rows.map((r) => r.datname);
}

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly command: string;
}

/** Live processes whose parent is `parentPid` (from /proc; zombies excluded). */
export function childProcesses(parentPid: number): ProcessInfo[] {
  const children: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = processInfo(Number(entry));
    if (info?.ppid === parentPid) children.push(info);
  }
  return children;
}

/** The process, unless it is gone or a zombie. */
export function processInfo(pid: number): ProcessInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …"; comm may hold spaces and parentheses, so split at the last ")".
  const close = stat.lastIndexOf(')');
  const [state, ppid] = stat.slice(close + 2).split(' ');
  if (state === 'Z' || state === 'X') return undefined;
  let command = stat.slice(stat.indexOf('(') + 1, close);
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || command;
  } catch {
    // Gone meanwhile; the comm will do.
  }
  return { pid, ppid: Number(ppid), command };
}
