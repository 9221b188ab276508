import type { BranchRow } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { type ConnInfo } from '../postgres/conninfo.js';
import { connectMaintenance, dropDatabase } from '../postgres/maintenance.js';
import { ifLockFree } from './locks.js';
import type { BranchContext } from './context.js';
import { deleteRow, findRow, findUnfinishedRows, removeTempDatabases, updateRow } from './control-table.js';
import { VIEW_DATABASE_PREFIX } from './names.js';

/**
 * Drops what a record owns on the server: its database and the temporary databases written down
 * for it, and forgets those. Call with the record's lock held.
 */
export async function dropRecordDatabases(client: Client, maint: Client, row: Pick<BranchRow, 'id' | 'branch_database' | 'temp_databases'>): Promise<void> {
  await dropDatabase(maint, row.branch_database);
  await dropTempDatabases(client, maint, row);
}

/** Drops the temporary databases written down for a record, then forgets them. Call with its lock held. */
export async function dropTempDatabases(client: Client, maint: Client, row: Pick<BranchRow, 'id' | 'temp_databases'>, onDrop?: (database: string) => void): Promise<void> {
  if (row.temp_databases.length === 0) return;
  for (const database of row.temp_databases) {
    onDrop?.(database);
    await dropDatabase(maint, database);
  }
  await removeTempDatabases(client, row.id, row.temp_databases);
}

/** The servers (main databases) this process has already recovered: once per process is enough. */
const recovered = new Set<string>();

function serverKey(main: ConnInfo): string {
  return `${main.host}:${main.port}/${main.database}`;
}

/** Whether this process has already finished what interrupted commands left on `main`'s server. */
export function recoveryDone(main: ConnInfo): boolean {
  return recovered.has(serverKey(main));
}

/**
 * Finishes what interrupted commands left (ayb killed, the server restarted or stopped, the disk
 * full), so that no command ever has to be told about it: a delete whose process is gone is finished
 * (database dropped, row removed); a create whose process is gone has its partial database dropped
 * and is marked failed; temporary databases written down for a record are dropped. A record whose
 * lock is held belongs to a command still running (or, for a delete killed while its DROP waited,
 * to the server session still running that DROP) and is left alone. Each step is said on the log.
 * Runs once per process, from the first command that opens the control table; a failure is
 * reported and left for the next command, never failing this one.
 */
export async function finishInterruptedWork(ctx: BranchContext, client: Client, options: { readonly again?: boolean } = {}): Promise<void> {
  const say = ctx.notice ?? ctx.log;
  const key = serverKey(ctx.main);
  if (recovered.has(key) && !options.again) return;
  recovered.add(key);
  const rows = await findUnfinishedRows(client);
  const views = await viewDatabases(client);
  if (rows.length === 0 && views.length === 0) return;
  let maint: Client;
  try {
    maint = await connectMaintenance(ctx.main);
  } catch (error) {
    recovered.delete(key);
    say?.(`warning: could not finish what interrupted commands left (the next command tries again): ${(error as Error).message}`);
    return;
  }
  try {
    if (views.length > 0) await dropAbandonedViews({ ...ctx, log: say }, maint, views);
    for (const row of rows) {
      await ifLockFree(maint, { record: row.name }, async () => {
        // Read again under the lock: the command that held it may have finished meanwhile.
        const current = await findRow(client, row.name);
        if (current?.id === row.id) await finishOne(say, client, maint, current);
      }).catch((error: unknown) => {
        say?.(`warning: could not finish the cleanup of ${row.kind} "${row.name}" (the next command tries again): ${(error as Error).message}`);
      });
    }
  } finally {
    await maint.end().catch(() => undefined);
  }
}

async function finishOne(say: ((line: string) => void) | undefined, client: Client, maint: Client, row: BranchRow): Promise<void> {
  if (row.status === 'deleting') {
    await dropRecordDatabases(client, maint, row);
    await deleteRow(client, row.id);
    say?.(`Finished deleting ${row.kind} "${row.name}" (its delete was interrupted).`);
    return;
  }
  if (row.status === 'creating') {
    await dropRecordDatabases(client, maint, row);
    const who = row.creator_pid ? ` (pid ${row.creator_pid}${row.creator_host ? ` on ${row.creator_host}` : ''})` : '';
    const message = `its create was interrupted: the ayb process${who} that began it at ${row.updated_at.toISOString()} stopped, or lost the server, before finishing; the partial database was removed`;
    await updateRow(client, row.id, { status: 'failed', error_message: message });
    say?.(`Removed the partial database "${row.branch_database}" of ${row.kind} "${row.name}", whose create was interrupted; it is marked failed (create it again, or remove it with: ayb ${row.kind} delete ${row.name} --yes --force).`);
    return;
  }
  await dropTempDatabases(client, maint, row, (database) =>
    say?.(`Removing "${database}", a temporary database left by an interrupted reset of ${row.kind} "${row.name}" …`));
}

/**
 * The readable copies of snapshots on the server that this role may drop (pg_database is the same
 * from any database, and shows the copies of every ayb user of the server, whatever their role).
 */
async function viewDatabases(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND pg_has_role(datdba, 'USAGE')",
    [VIEW_DATABASE_PREFIX],
  );
  return rows.map((r) => r.datname);
}

/**
 * Drops the readable copies of snapshots (snapshot-view.ts) whose maker is gone: each one's lock is
 * held by its maker from before the copy exists until it is dropped, so a free lock means a killed ayb.
 */
export async function dropAbandonedViews(ctx: BranchContext, maint: Client, views?: readonly string[]): Promise<void> {
  for (const datname of views ?? (await viewDatabases(maint))) {
    await ifLockFree(maint, { view: datname }, async () => {
      ctx.log?.(`Removing "${datname}", a copy of a snapshot left by an ayb process that was killed …`);
      await dropDatabase(maint, datname);
    }).catch((error: unknown) => {
      // Housekeeping: it never fails the command it runs for; the next one tries again.
      ctx.log?.(`warning: could not remove "${datname}" (the next command tries again): ${(error as Error).message}`);
    });
  }
}
