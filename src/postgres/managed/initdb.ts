import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExternalError, UsageError } from '../../core/errors.js';
import { CREDENTIALS_FILE, MANAGED_SUPERUSER, type ManagedClusterOptions, tail } from './options.js';
import { ensureTraversable, exec, type RunAs, runAsFor } from './os-user.js';

/** A new cluster: initdb with a generated password, loopback only; the password kept in a 0600 file. */
export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export async function readCredentials(dataDir: string): Promise<Credentials | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, CREDENTIALS_FILE), 'utf8')) as Credentials;
  } catch {
    return undefined;
  }
}

export function isInitialised(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'PG_VERSION'));
}

export async function initCluster(options: ManagedClusterOptions, binDir: string, runAs: RunAs | undefined): Promise<void> {
  const { dataDir } = options;
  const parent = path.dirname(dataDir);
  // As root the service user must be able to pass through ayb's own folder (not read it).
  await mkdir(parent, { recursive: true, mode: runAs ? 0o711 : 0o700 });
  if (runAs) await ensureTraversable(dataDir, runAs, options.log);
  const existing = await readdir(dataDir).catch(() => undefined);
  if (existing && existing.length > 0) {
    throw new UsageError(`the managed PostgreSQL data directory ${dataDir} is not empty and holds no cluster`, {
      hint: 'empty or remove it, or set [managed_pg] data_dir to another folder',
    });
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid);

  options.log?.(`Initialising the managed PostgreSQL in ${dataDir} …`);
  const password = randomBytes(24).toString('base64url');
  // initdb reads the password from a file; a private one that only the service user can read.
  const pwDir = await mkdtemp(path.join(os.tmpdir(), 'ayb-initdb-'));
  const pwFile = path.join(pwDir, 'pw');
  await writeFile(pwFile, password + '\n', { mode: 0o600 });
  if (runAs) await chown(pwDir, runAs.uid, runAs.gid).then(() => chown(pwFile, runAs.uid, runAs.gid));
  const result = await exec(
    path.join(binDir, 'initdb'),
    ['-D', dataDir, '-U', MANAGED_SUPERUSER, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-instructions'],
    runAs,
  ).finally(() => rm(pwDir, { recursive: true, force: true }));
  if (result.exitCode !== 0) {
    await rm(dataDir, { recursive: true, force: true });
    throw new ExternalError('managed_init_failed', `initdb failed for the managed PostgreSQL in ${dataDir}`, {
      hint: tail(String(result.all ?? '')),
    });
  }
  // Loopback only, no Unix socket (its directory may not be writable), port given at start.
  const conf = path.join(dataDir, 'postgresql.conf');
  const settings = ["listen_addresses = '127.0.0.1'", "unix_socket_directories = ''", 'max_connections = 200', ''].join('\n');
  await writeFile(conf, (await readFile(conf, 'utf8')) + '\n# ayb managed cluster\n' + settings);
  // The credentials stay readable by the invoking user only; root can read them anyway.
  await writeFile(path.join(dataDir, CREDENTIALS_FILE), JSON.stringify({ user: MANAGED_SUPERUSER, password }), { mode: 0o600 });
}

/**
 * pg_basebackup reads every file of the data directory as the OS user the server runs as, so the
 * credentials file there must be that user's (still 0600). That user runs the server as superuser
 * and owns its files, so it learns nothing it could not do already.
 */
export async function shareCredentialsWithServiceUser(options: Pick<ManagedClusterOptions, 'dataDir' | 'osUser'>): Promise<void> {
  const runAs = runAsFor({ ...options, port: 0 });
  if (runAs) await chown(path.join(path.resolve(options.dataDir), CREDENTIALS_FILE), runAs.uid, runAs.gid);
}

