import { spawn } from 'node:child_process';
import { findTool } from '../../src/postgres/tools.js';
import { connect } from '../../src/postgres/client.js';
import { type ConnInfo, formatConnInfo, libpqEnv, withDatabase } from '../../src/postgres/conninfo.js';
import { quoteIdent } from '../../src/postgres/quote.js';

/**
 * The baseline: a branch made the way AYB (Allyourbase, Go) makes one. Its
 * internal/branching/manager.go (Manager.Create → createDatabase → cloneDatabase) runs
 *   CREATE DATABASE "<branch>"                                  (default template, template1)
 *   pg_dump --dbname=<source url> --format=plain --no-owner --no-privileges
 *     | psql --dbname=<branch url> --quiet --no-psqlrc           (no ON_ERROR_STOP)
 * with the two processes joined through the Go process (os pipes + io.Pipe). Here they are joined by
 * one kernel pipe, which can only be as fast or faster, so the baseline is, if anything, flattered.
 * The password travels in PGPASSWORD rather than in the URL (no difference to the timing).
 */
export function baselineDumpArgs(source: ConnInfo): string[] {
  return [`--dbname=${formatConnInfo(source, { omitPassword: true })}`, '--format=plain', '--no-owner', '--no-privileges'];
}

export function baselineRestoreArgs(target: ConnInfo): string[] {
  return [`--dbname=${formatConnInfo(target, { omitPassword: true })}`, '--quiet', '--no-psqlrc'];
}

function exitOf(child: ReturnType<typeof spawn>, name: string, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${name} ${signal ? `killed by ${signal}` : `exited with ${code}`}: ${stderr().slice(-400)}`));
    });
  });
}

/** Copies `main` into a new database `target` as AYB does; returns the wall time in milliseconds. */
export async function runBaseline(main: ConnInfo, target: string): Promise<number> {
  const pgDump = await findTool('pg_dump', 0);
  const psql = await findTool('psql', 0);
  const started = performance.now();
  const admin = await connect(withDatabase(main, 'postgres'));
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(target)}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const targetConn = withDatabase(main, target);
  const dump = spawn(pgDump.path, baselineDumpArgs(main), { env: { ...process.env, ...libpqEnv(main) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const restore = spawn(psql.path, baselineRestoreArgs(targetConn), {
    env: { ...process.env, ...libpqEnv(targetConn) },
    stdio: [dump.stdout!, 'ignore', 'pipe'],
  });
  // psql holds the pipe now; the parent's end would only keep it open.
  dump.stdout!.destroy();
  let dumpErr = '';
  let restoreErr = '';
  dump.stderr!.on('data', (chunk: Buffer) => (dumpErr = (dumpErr + chunk.toString()).slice(-4000)));
  restore.stderr!.on('data', (chunk: Buffer) => (restoreErr = (restoreErr + chunk.toString()).slice(-4000)));
  await Promise.all([exitOf(dump, 'pg_dump', () => dumpErr), exitOf(restore, 'psql', () => restoreErr)]);
  const ms = performance.now() - started;
  // AYB's psql does not stop on errors; a baseline that silently failed would flatter it.
  if (/ERROR:/.test(restoreErr)) throw new Error(`baseline restore reported errors: ${restoreErr.slice(-400)}`);
  return ms;
}
