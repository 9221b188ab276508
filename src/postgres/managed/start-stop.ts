import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { ExternalError } from '../../core/errors.js';
import { embeddedBinDir } from './binaries.js';
import { LOG_FILE, type ManagedClusterOptions, tail } from './options.js';
import { exec, type RunAs, runAsFor } from './os-user.js';

/** Starting, stopping and restarting a managed cluster with pg_ctl, detached from ayb. */
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

export async function startCluster(options: ManagedClusterOptions, binDir: string, runAs: RunAs | undefined, timeoutSeconds = 60, signal?: AbortSignal): Promise<void> {
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

