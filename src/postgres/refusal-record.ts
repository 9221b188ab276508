import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnInfo } from './conninfo.js';

/**
 * ayb's note that it made a database refuse connections (connection-guard.ts), written before it
 * does and removed once connections are allowed again, by ayb or by its guard. A note that is still
 * there while the database refuses connections means ayb (and its guard) did not get to allow them
 * again; the next ayb command that finds the database refusing reads it and allows them itself
 * (once no ayb session is still at it). Kept in `~/.ayb/refusing/`, one small JSON file per refusal
 * (`AYB_STATE_DIR` moves the folder); it holds no password.
 */
export interface RefusalRecord {
  readonly host: string;
  readonly port: number;
  /** The database made to refuse connections; its `refusing` lock is held while ayb is at it. */
  readonly lock: string;
  /** The databases to allow connections to again (a rename: the old and the new name). */
  readonly databases: readonly string[];
  /** The ayb process that made it refuse them, and when. */
  readonly pid: number;
  readonly since: string;
}

export function refusalDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.AYB_STATE_DIR || path.join(os.homedir(), '.ayb'), 'refusing');
}

export function refusalRecordPath(main: ConnInfo, lock: string, dir = refusalDir()): string {
  const key = createHash('sha256').update(`${main.host}\0${main.port}\0${lock}`).digest('hex').slice(0, 16);
  return path.join(dir, `${key}.json`);
}

/** Writes the note; returns its path, or undefined when it cannot be written (the guard still stands by). */
export function writeRefusalRecord(main: ConnInfo, lock: string, databases: readonly string[]): string | undefined {
  try {
    const dir = refusalDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = refusalRecordPath(main, lock, dir);
    const record: RefusalRecord = { host: main.host, port: main.port, lock, databases, pid: process.pid, since: new Date().toISOString() };
    // Written aside and renamed, so a reader never sees half a note (the guard updates it the same way).
    writeFileSync(`${file}.tmp`, JSON.stringify(record) + '\n', { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    return file;
  } catch {
    return undefined;
  }
}

export function removeRefusalRecord(file: string | undefined): void {
  if (file) rmSync(file, { force: true });
}

/** The notes about `database` (any database, when undefined) on main's server, oldest first. */
export function findRefusalRecords(main: ConnInfo, database?: string): { readonly file: string; readonly record: RefusalRecord }[] {
  const dir = refusalDir();
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const found: { file: string; record: RefusalRecord }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const record = JSON.parse(readFileSync(file, 'utf8')) as RefusalRecord;
      if (record.host === main.host && record.port === main.port && (database === undefined || record.databases.includes(database))) found.push({ file, record });
    } catch {
      // Half-written or not ours: not a note to act on.
    }
  }
  return found.sort((a, b) => a.record.since.localeCompare(b.record.since));
}

/**
 * Removes the notes about `database` once it is seen allowing connections: whoever allowed them (a
 * person, after ayb and its guard were both cut off) did the note's work, and a later refusal is
 * not ayb's. A note younger than `graceMs` is left: its ayb process may be about to refuse them.
 */
export function forgetStaleRefusals(main: ConnInfo, database: string, graceMs = 60_000, now = Date.now()): void {
  for (const { file, record } of findRefusalRecords(main, database)) {
    if (now - Date.parse(record.since) > graceMs) removeRefusalRecord(file);
  }
}
