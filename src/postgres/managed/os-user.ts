import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../core/errors.js';
import { dieWithParentPrefix } from '../die-with-parent.js';
import { toolEnv } from '../tools.js';
import type { ManagedClusterOptions } from './options.js';

/**
 * PostgreSQL refuses to run as root; when ayb runs as root the cluster runs as an unprivileged OS
 * user (default `postgres`, else `nobody`) that owns the data directory. Its tools run as that user.
 */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

function lookupOsUser(name: string): RunAs | undefined {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

export function runAsFor(options: ManagedClusterOptions): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const candidates = options.osUser ? [options.osUser] : ['postgres', 'nobody'];
  for (const name of candidates) {
    const found = lookupOsUser(name);
    if (found && found.uid !== 0) return found;
  }
  throw new UsageError(`ayb runs as root, and PostgreSQL refuses to; no unprivileged OS user "${candidates.join('" or "')}" exists`, {
    hint: 'create one (useradd --system postgres) or set [managed_pg] os_user in ayb.toml',
  });
}

/**
 * As root, the data directory may sit under a folder the service user cannot enter (/root is
 * 0700). Grant traverse-only permission (o+x, not read) on each such ancestor, and say so.
 */
export async function ensureTraversable(dir: string, runAs: RunAs, log?: (line: string) => void): Promise<void> {
  const ancestors: string[] = [];
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    ancestors.push(current);
    if (current === path.dirname(current)) break;
  }
  for (const ancestor of ancestors.reverse()) {
    const info = await stat(ancestor).catch(() => undefined);
    if (!info) continue;
    const canTraverse =
      (info.mode & 0o001) !== 0 ||
      (info.uid === runAs.uid && (info.mode & 0o100) !== 0) ||
      (info.gid === runAs.gid && (info.mode & 0o010) !== 0);
    if (!canTraverse) {
      await chmod(ancestor, (info.mode & 0o7777) | 0o001);
      log?.(`note: allowed OS user "${runAs.name}" to traverse ${ancestor} (o+x) so the managed PostgreSQL can reach its data directory`);
    }
  }
}

// execa is loaded on first use: most commands find the cluster running and never start a tool.
export async function exec(file: string, args: string[], runAs: RunAs | undefined, extra: { detached?: boolean; env?: Record<string, string>; signal?: AbortSignal } = {}) {
  const { execa } = await import('execa');
  return execa(file, args, {
    uid: runAs?.uid,
    gid: runAs?.gid,
    detached: extra.detached,
    cancelSignal: extra.signal,
    reject: false,
    all: true,
    // The server outlives this command: it must not keep ayb's secrets (AYB_DATABASE_URL,
    // AYB_ADMIN_PASSWORD) in its environment, nor be steered by the caller's libpq variables.
    env: { ...toolEnv({ LC_ALL: 'C' }), PGHOST: undefined, PGPORT: undefined, PGDATA: undefined, ...extra.env },
    cwd: '/',
  });
}

// ---- For [history] (src/history/): the same OS-user rules for the archive, base backups and restores.

/**
 * Runs a tool as the managed cluster's OS user (as ayb itself when ayb is not root), `env` added.
 * The tool dies with ayb (die-with-parent.ts): a `cp -a` of a base backup or a pg_basebackup must
 * not run on for minutes after ayb was killed (kill -9, the OOM killer), filling the history disk
 * with a copy nobody will use. `signal` stops it (SIGTERM) on Ctrl-C or an `ayb start` shutdown.
 */
export async function runAsServiceUser(
  file: string,
  args: string[],
  options: Pick<ManagedClusterOptions, 'osUser'>,
  env: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<{ readonly exitCode: number; readonly output: string }> {
  const runAs = runAsFor({ ...options, dataDir: '', port: 0 });
  const [guard, ...guardArgs] = await dieWithParentPrefix();
  const [command, argv] = guard ? [guard, [...guardArgs, file, ...args]] : [file, args];
  const result = await exec(command, argv, runAs, { env, signal });
  return { exitCode: result.exitCode ?? 1, output: String(result.all ?? '') };
}

/** Makes `dir` (0700) owned by the managed cluster's OS user, reachable by it through its ancestors. */
export async function prepareServiceDir(dir: string, options: Pick<ManagedClusterOptions, 'osUser' | 'log'>): Promise<void> {
  const runAs = runAsFor({ ...options, dataDir: dir, port: 0 });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!runAs) return;
  await chown(dir, runAs.uid, runAs.gid);
  await ensureTraversable(dir, runAs, options.log);
}
