import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { type Client, clientConfig, sqlState, SqlState } from './client.js';
import { type ConnInfo, withDatabase } from './conninfo.js';
import { connectMaintenance, holdRefusingLock, releaseRefusingLock, setAllowConnections, tryTakeRefusingLock, WAIT_FOR_REFUSING_SESSIONS_SQL } from './maintenance.js';
import { quoteIdent } from './quote.js';
import { findRefusalRecords, type RefusalRecord, refusalRecordPath, removeRefusalRecord, writeRefusalRecord } from './refusal-record.js';
import { parseDuration } from '../core/duration.js';

/**
 * A watchdog for the moments in which ayb keeps a database refusing connections (a `--disconnect`
 * copy of its source, a rename, the swap at the end of a reset): if ayb dies before it allows them
 * again (SIGKILL, the OOM killer, a closed terminal), the guard does it, so no database, main
 * included, is left refusing everyone.
 *
 * The guard is a small Node process in a session of its own (so neither Ctrl-C nor a kill of ayb's
 * process group reaches it). It reads its stdin, a pipe from ayb, to the end. ayb writes "done"
 * once it has allowed connections itself; an end without "done" means ayb is gone (the kernel
 * closes the pipe however it died), and the guard connects with ayb's credentials, which it gets in
 * its environment and never in argv. It first waits for ayb's sessions to end: a statement in
 * flight (the ALTER DATABASE that refuses connections, or the copy itself) runs to its end on the
 * server although its client is gone. ayb's session holds the `refusing` advisory lock shared for
 * the whole time (maintenance.ts); the guard takes it exclusively, which waits for exactly that.
 * Then it allows connections to each of the databases that still refuses them. A server that is
 * down (restarting, out of disk) is tried again every second (`AYB_GUARD_INTERVAL`) for
 * `AYB_GUARD_WINDOW` (default 15 minutes). Should the guard give up, or be killed too, ayb's note
 * (refusal-record.ts) stays, and the next ayb command that finds the database refusing
 * connections allows them (recoverRefusal).
 */
interface ConnectionGuard {
  /** ayb allowed connections again itself (`allowed`): the guard just exits. Otherwise it does it. */
  release(allowed: boolean): void;
}

const GUARD_SCRIPT = String.raw`
const fs = require('fs');
const pgPath = process.env.AYB_GUARD_PG;
const configs = JSON.parse(process.env.AYB_GUARD_CONFIGS);
const databases = JSON.parse(process.env.AYB_GUARD_DATABASES);
const waitSql = process.env.AYB_GUARD_WAIT_SQL;
const lockName = process.env.AYB_GUARD_LOCK;
const record = process.env.AYB_GUARD_RECORD;
const windowMs = Number(process.env.AYB_GUARD_WINDOW_MS);
const intervalMs = Number(process.env.AYB_GUARD_INTERVAL_MS);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('error', () => undefined);
process.stdin.on('end', async () => {
  if (input.includes('done')) return;
  const { Client } = require(pgPath);
  const deadline = Date.now() + windowMs;
  for (let attempt = 1; ; attempt++) {
    for (const config of configs) {
      const client = new Client(config);
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query(waitSql, [lockName]);
        for (const name of databases) {
          const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn', [name]);
          if (rowCount) await client.query('ALTER DATABASE "' + name.replace(/"/g, '""') + '" WITH ALLOW_CONNECTIONS true');
        }
        await client.end();
        if (record) fs.rmSync(record, { force: true });
        return;
      } catch {
        await client.end().catch(() => undefined);
      }
    }
    // The note stays for the next ayb command; it says how long the guard tried.
    if (record) {
      try {
        const note = JSON.parse(fs.readFileSync(record, 'utf8'));
        fs.writeFileSync(record + '.tmp', JSON.stringify({ ...note, guard: { pid: process.pid, attempts: attempt, last: new Date().toISOString() } }) + '\n', { mode: 0o600 });
        fs.renameSync(record + '.tmp', record);
      } catch {}
    }
    if (Date.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
});
`;

/** How long a guard keeps trying to reach the server: `AYB_GUARD_WINDOW` (a duration), default 15 minutes. */
export function guardWindowMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.AYB_GUARD_WINDOW?.trim();
  return text ? parseDuration(text, 'AYB_GUARD_WINDOW') : 15 * 60_000;
}

/**
 * How long a guard waits between two tries: `AYB_GUARD_INTERVAL`, a duration or a number of
 * milliseconds (`200ms`, which the tests use so as not to wait a second a try), default 1 second.
 */
export function guardIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.AYB_GUARD_INTERVAL?.trim();
  if (!text) return 1_000;
  const ms = /^(\d+)ms$/i.exec(text);
  return ms ? Number(ms[1]) : parseDuration(text, 'AYB_GUARD_INTERVAL');
}

/**
 * Starts a guard for `databases` on the main database's server: once ayb is gone, it waits for the
 * sessions holding the refusing lock of `lockName` to end, then allows connections to each of
 * `databases` that refuses them.
 */
function startConnectionGuard(
  main: ConnInfo,
  lockName: string,
  databases: readonly string[],
  record: string | undefined,
  timing: { readonly windowMs: number; readonly intervalMs: number },
): ConnectionGuard {
  // The maintenance databases ayb itself connects to (see connectMaintenance).
  const configs = ['postgres', 'template1'].map((db) => ({ ...clientConfig(withDatabase(main, db)), application_name: 'ayb connection guard' }));
  const child = spawn(process.execPath, ['-e', GUARD_SCRIPT], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    cwd: '/',
    env: {
      PATH: process.env.PATH,
      AYB_GUARD_PG: createRequire(import.meta.url).resolve('pg'),
      AYB_GUARD_CONFIGS: JSON.stringify(configs),
      AYB_GUARD_DATABASES: JSON.stringify(databases),
      AYB_GUARD_LOCK: lockName,
      AYB_GUARD_WAIT_SQL: WAIT_FOR_REFUSING_SESSIONS_SQL,
      AYB_GUARD_RECORD: record ?? '',
      AYB_GUARD_WINDOW_MS: String(timing.windowMs),
      AYB_GUARD_INTERVAL_MS: String(timing.intervalMs),
    },
  });
  // Neither the guard nor its pipe keeps ayb running; a guard that failed to start just is not there.
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    release(allowed) {
      child.stdin!.end(allowed ? 'done\n' : '');
    },
  };
}

/** A database refusing connections, with a guard standing by. */
export interface Refusal {
  /**
   * Allows connections to `allow` again (the refused database, or the name it has now; undefined
   * when nothing is left to allow) and stands the guard down. When allowing fails, this logs how to
   * do it by hand and leaves it to the guard once ayb has ended; it returns whether it worked.
   */
  end(allow: string | undefined): Promise<boolean>;
}

/**
 * Makes `database` refuse new connections, superusers included, after starting a guard that would
 * allow connections to `guarded` again should ayb die before `end()` (a rename passes both names).
 */
export async function refuseConnections(
  maint: Client,
  main: ConnInfo,
  database: string,
  guarded: readonly string[],
  log?: (line: string) => void,
): Promise<Refusal> {
  const timing = { windowMs: guardWindowMs(), intervalMs: guardIntervalMs() };
  const record = refusalRecordPath(main, database);
  const guard = startConnectionGuard(main, database, guarded, record, timing);
  try {
    await holdRefusingLock(maint, database);
    // Noted once the lock is held, so a note whose lock is free was left by a process that is gone.
    writeRefusalRecord(main, database, guarded);
    await setAllowConnections(maint, database, false);
  } catch (error) {
    // Most likely the database still allows connections; but a connection lost mid-statement may
    // have refused them after all, so the guard looks once this command has ended.
    await releaseRefusingLock(maint, database).catch(() => undefined);
    guard.release(false);
    throw error;
  }
  return {
    async end(allow) {
      const allowed = allow === undefined || (await allowAgain(maint, allow, log));
      await releaseRefusingLock(maint, database).catch(() => undefined);
      if (allowed) removeRefusalRecord(record);
      guard.release(allowed);
      return allowed;
    },
  };
}

async function allowAgain(maint: Client, database: string, log?: (line: string) => void): Promise<boolean> {
  // A Ctrl-C cancel sent for the work in between may land on this statement instead: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await setAllowConnections(maint, database, true);
      return true;
    } catch (error) {
      if (sqlState(error) === SqlState.queryCanceled && attempt < 3) continue;
      log?.(
        `warning: could not allow connections to "${database}" again (${(error as Error).message}); ` +
          `ayb's connection guard will once this command has ended, or run: ALTER DATABASE ${quoteIdent(database)} WITH ALLOW_CONNECTIONS true`,
      );
      return false;
    }
  }
}

/** What recoverRefusal found about a database that refuses connections. */
export type RefusalRecovery =
  | { readonly outcome: 'allowed'; readonly record: RefusalRecord }
  | { readonly outcome: 'in_progress'; readonly record: RefusalRecord }
  | { readonly outcome: 'not_ayb' };

/**
 * For a database found refusing connections: when ayb's note says ayb made it so and no ayb session
 * is still at it (the refusing lock is free: the guard's own test), allows connections again, as
 * the guard would have, and removes the note. `in_progress` while the ayb process that refused them
 * still works (a `--disconnect` copy in flight); `not_ayb` when no note says ayb did it.
 */
export async function recoverRefusal(main: ConnInfo, database: string): Promise<RefusalRecovery> {
  const notes = findRefusalRecords(main, database);
  if (notes.length === 0) return { outcome: 'not_ayb' };
  const maint = await connectMaintenance(main);
  try {
    for (const note of notes) {
      if ((await actOnNote(maint, note)) === undefined) return { outcome: 'in_progress', record: note.record };
    }
    return { outcome: 'allowed', record: notes[0]!.record };
  } finally {
    await maint.end().catch(() => undefined);
  }
}

/**
 * Does the work of the guards that gave up (or were killed) on main's server: for each note whose
 * ayb process is gone (its refusing lock is free), allows connections to the databases it lists that still
 * refuse them (a branch left so by a rename or a reset's swap) and removes it. Returns the
 * databases let in again. Opens a session only when such notes exist.
 */
export async function healAbandonedRefusals(main: ConnInfo): Promise<string[]> {
  const notes = findRefusalRecords(main);
  if (notes.length === 0) return [];
  const maint = await connectMaintenance(main);
  try {
    const allowed: string[] = [];
    for (const note of notes) allowed.push(...((await actOnNote(maint, note)) ?? []));
    return allowed;
  } finally {
    await maint.end().catch(() => undefined);
  }
}

/**
 * One note: undefined while its ayb process still holds the refusing lock; otherwise allows
 * connections to the listed databases that refuse them, removes the note, and returns those.
 */
async function actOnNote(maint: Client, { file, record }: { readonly file: string; readonly record: RefusalRecord }): Promise<string[] | undefined> {
  if (!(await tryTakeRefusingLock(maint, record.lock))) return undefined;
  const allowed: string[] = [];
  try {
    for (const name of record.databases) {
      const { rowCount } = await maint.query('SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn', [name]);
      if (!rowCount) continue;
      await setAllowConnections(maint, name, true);
      allowed.push(name);
    }
  } finally {
    await releaseRefusingLock(maint, record.lock, 'exclusive').catch(() => undefined);
  }
  removeRefusalRecord(file);
  return allowed;
}
