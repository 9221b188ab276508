import { randomBytes } from 'node:crypto';
import { constants, existsSync, readFileSync } from 'node:fs';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AybConfig } from '../config/schema.js';
import type { Client } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { isLoopbackHost } from '../core/net.js';

/**
 * How `CREATE DATABASE … STRATEGY FILE_COPY` copies the files: `copy` (read and write every byte)
 * or, on PostgreSQL 18+, `clone` (`SET file_copy_method = clone`: the filesystem shares the blocks
 * copy-on-write, so a branch takes no time and no space until it is written to). Cloning needs a
 * filesystem that can: XFS with reflink, Btrfs, ZFS 2.2+, APFS.
 */
export type FileCopyMethod = 'copy' | 'clone';

export interface FileCopyDecision {
  readonly method: FileCopyMethod;
  /** Why, in a few words (for logs and the benchmark). */
  readonly reason: string;
}

const MANAGED_MARKER = 'ayb-managed.json';

/**
 * Decides the file copy method. `[branching] file_copy_method`: `copy` never clones; `clone` clones
 * on PostgreSQL 18+ whatever the server (the operator vouches for its filesystem); `auto` (default)
 * clones only where ayb can see for itself that it works: a server of 18 or newer that is ayb's
 * managed cluster on this machine, whose data directory passes a reflink probe. Other servers copy:
 * ayb does not guess at a filesystem it cannot see.
 */
export async function decideFileCopyMethod(maint: Client, main: ConnInfo, config: AybConfig, serverMajor: number): Promise<FileCopyDecision> {
  const setting = config.branching.file_copy_method;
  if (setting === 'copy') return { method: 'copy', reason: '[branching] file_copy_method = "copy"' };
  if (serverMajor < 18) return { method: 'copy', reason: `PostgreSQL ${serverMajor} cannot clone files (needs 18+)` };
  if (setting === 'clone') return { method: 'clone', reason: '[branching] file_copy_method = "clone"' };
  const dataDir = await managedDataDirectory(maint, main);
  if (!dataDir) return { method: 'copy', reason: 'not the managed cluster; set [branching] file_copy_method = "clone" if its filesystem can clone' };
  return (await canCloneFiles(dataDir))
    ? { method: 'clone', reason: `the managed cluster's data directory ${dataDir} can clone files` }
    : { method: 'copy', reason: `the managed cluster's data directory ${dataDir} cannot clone files` };
}

/** This machine: a loopback address, or a Unix socket's folder. */
function isLoopback(host: string): boolean {
  return host.startsWith('/') || isLoopbackHost(host);
}

/**
 * The data directory of the server, when it is an ayb managed cluster running on this machine: the
 * server's data_directory exists here, holds ayb's marker file, and its postmaster.pid names the
 * port we are connected to. Anything else (another server, no permission to read the setting)
 * answers undefined.
 */
export async function managedDataDirectory(maint: Client, main: ConnInfo): Promise<string | undefined> {
  if (!isLoopback(main.host)) return undefined;
  let dataDir: string;
  try {
    const { rows } = await maint.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
    dataDir = rows[0]!.dir;
  } catch {
    return undefined; // Needs superuser or pg_read_all_settings.
  }
  try {
    if (!existsSync(path.join(dataDir, MANAGED_MARKER))) return undefined;
    const port = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[3]);
    return port === main.port ? dataDir : undefined;
  } catch {
    return undefined;
  }
}

const probeCache = new Map<string, boolean>();

/**
 * Whether files in `dir` can be cloned: clones a small probe file with FICLONE (Linux) or
 * clonefile (macOS) via copyFile(COPYFILE_FICLONE_FORCE), which fails rather than copying where the
 * filesystem cannot share blocks. A few milliseconds; the answer is kept for the process.
 */
export async function canCloneFiles(dir: string): Promise<boolean> {
  const cached = probeCache.get(dir);
  if (cached !== undefined) return cached;
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const source = path.join(dir, `ayb-clone-probe-${suffix}`);
  const clone = `${source}.clone`;
  let ok: boolean;
  try {
    await writeFile(source, randomBytes(64 * 1024), { mode: 0o600 });
    await copyFile(source, clone, constants.COPYFILE_FICLONE_FORCE);
    ok = true;
  } catch {
    ok = false;
  } finally {
    await rm(source, { force: true }).catch(() => undefined);
    await rm(clone, { force: true }).catch(() => undefined);
  }
  probeCache.set(dir, ok);
  return ok;
}
