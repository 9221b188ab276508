import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import type { ResultPromise } from 'execa';
import { AybError, ConflictError, ExternalError } from '../core/errors.js';
import { type ConnInfo, formatConnInfo, libpqEnv, scrubSecret } from '../postgres/conninfo.js';
import { dieWithParentPrefix } from '../postgres/die-with-parent.js';
import { type DumpProgress, watchRestore } from './progress.js';
import { type Tool, toolEnv } from '../postgres/tools.js';
import { describeLimit, FIND_LOCK_HOLDERS_SQL } from '../postgres/timeouts.js';

export type { DumpProgress } from './progress.js';

export interface DumpOptions {
  /** Keep `ALTER … OWNER TO` (only when the restoring role may set any owner). */
  readonly keepOwnership: boolean;
  /** Keep GRANT/REVOKE (off for sources on other servers, whose roles may not exist here). */
  readonly keepPrivileges: boolean;
  /** Tables left out entirely, as schema.table patterns (the control table). */
  readonly excludeTables: readonly string[];
  /** pg_dump's `--lock-wait-timeout`, in ms: a table lock held elsewhere ends the dump instead of hanging it. 0: wait. */
  readonly lockWaitTimeoutMs?: number;
}

export interface DumpCloneRequest extends DumpOptions {
  readonly source: ConnInfo;
  readonly target: ConnInfo;
  readonly pgDump: Tool;
  readonly psql: Tool;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DumpProgress) => void;
  /** Settings for psql's session on the branch (see restoreSessionSettings in clone.ts). */
  readonly restoreSettings?: Readonly<Record<string, string>>;
  /**
   * Rewrites pg_dump's output on its way to psql (masking passes one in). The bytes then pass
   * through this process, with backpressure; pg_dump writes UTF-8 in UTC, so the rewriter knows
   * what it reads. Without it, psql reads pg_dump's output directly.
   */
  readonly rewrite?: () => Transform;
}

/** pg_dump's argv. The connection string carries no password: that travels in the environment. */
export function pgDumpArgs(source: ConnInfo, options: DumpOptions): string[] {
  const args = ['--format=plain', '--no-password'];
  if (!options.keepOwnership) args.push('--no-owner');
  if (!options.keepPrivileges) args.push('--no-privileges');
  for (const table of options.excludeTables) args.push(`--exclude-table=${table}`);
  if (options.lockWaitTimeoutMs) args.push(`--lock-wait-timeout=${options.lockWaitTimeoutMs}`);
  args.push('--dbname', formatConnInfo(withAppName(source, 'ayb-pg_dump'), { omitPassword: true }));
  return args;
}

/** psql's argv: no psqlrc, stop at the first error, quiet, nothing to stdout but results we drop. */
export function psqlArgs(target: ConnInfo): string[] {
  return [
    '--no-psqlrc',
    '--quiet',
    '--no-password',
    '--set', 'ON_ERROR_STOP=1',
    '--dbname', formatConnInfo(withAppName(target, 'ayb-psql'), { omitPassword: true }),
  ];
}

/**
 * PGOPTIONS for a session: the caller's own PGOPTIONS first, then `-c name=value` for each setting
 * (libpq splits on spaces, so a value's spaces and backslashes are escaped).
 */
export function pgOptions(settings: Readonly<Record<string, string>>, existing?: string): string | undefined {
  const escape = (text: string) => text.replace(/\\/g, '\\\\').replace(/ /g, '\\ ');
  const own = Object.entries(settings).map(([name, value]) => `-c ${escape(name)}=${escape(value)}`);
  const all = [existing?.trim(), ...own].filter(Boolean);
  return all.length > 0 ? all.join(' ') : undefined;
}

function withAppName(info: ConnInfo, name: string): ConnInfo {
  return { ...info, params: { ...info.params, application_name: name } };
}

function restoreEnv(target: ConnInfo, settings: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env = libpqEnv(target);
  const options = pgOptions(settings, process.env.PGOPTIONS);
  return options ? { ...env, PGOPTIONS: options } : env;
}

/** Keeps the last bytes a child wrote to stderr, for the error message. */
class StderrTail {
  private text = '';
  constructor(stream: NodeJS.ReadableStream | null | undefined, private readonly limit = 8192) {
    stream?.setEncoding?.('utf8');
    stream?.on('data', (chunk: string) => {
      this.text = (this.text + chunk).slice(-this.limit);
    });
  }
  /**
   * The lines that say what went wrong: the tool's own `error:`/`detail:` lines and the server's
   * ERROR/FATAL, without the SQL a `Command was:` detail quotes (that can fill the whole tail and
   * push the cause out). Falls back to the last lines when nothing looks like a diagnostic.
   */
  lines(count = 6): string {
    return diagnosticLines(this.text, count);
  }
}

export function diagnosticLines(text: string, count = 6): string {
  const all = text.trim().split('\n');
  const said = all.filter((line) =>
    /(^[\w.-]+: (error|fatal|detail|hint|warning):)|\b(ERROR|FATAL|PANIC):|terminating connection|server closed the connection/i.test(line)
    && !/\bCommand was:/.test(line));
  return (said.length > 0 ? said : all).slice(-count).join('\n');
}

/**
 * Streams `pg_dump source | psql target`: psql reads pg_dump's output directly (one socket between
 * the two children), so the bytes never pass through Node and ayb's memory stays flat however large
 * the database. Progress, when asked for, is read from the server's side (see progress.ts). If either side
 * fails, the other is stopped, so neither can hang, and the error names the tool that failed with
 * the tail of its stderr (passwords scrubbed). On abort both are stopped and the abort reason thrown;
 * if ayb itself is killed, the kernel stops them (see die-with-parent.ts).
 */
export async function dumpAndRestore(request: DumpCloneRequest): Promise<void> {
  const { source, target, signal } = request;
  signal?.throwIfAborted();
  const { execa } = await import('execa');
  // Each tool is exec'd through the prefix, so its pid is the tool's own and signals reach it.
  const [guard, ...guardArgs] = await dieWithParentPrefix();
  const argv = (tool: Tool, args: string[]): [string, string[]] => (guard ? [guard, [...guardArgs, tool.path, ...args]] : [tool.path, args]);
  const common = { reject: false, buffer: false, cleanup: true, forceKillAfterDelay: 3000 } as const;
  const rewriter = request.rewrite?.();
  const dumpArgs = pgDumpArgs(source, request);
  const dump = execa(...argv(request.pgDump, rewriter ? ['--encoding=UTF8', ...dumpArgs] : dumpArgs), {
    ...common,
    env: toolEnv(rewriter ? { ...libpqEnv(source), PGTZ: 'UTC' } : libpqEnv(source)),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const restore = execa(...argv(request.psql, psqlArgs(target)), {
    ...common,
    env: toolEnv(restoreEnv(target, request.restoreSettings)),
    stdin: rewriter ? 'pipe' : dump.stdout!,
    stdout: 'ignore',
    stderr: 'pipe',
  });
  let rewriteFailure: Error | undefined;
  // psql holds that end now; ours would only keep it open.
  if (!rewriter) dump.stdout!.destroy();
  const progress = request.onProgress ? watchRestore(target, request.onProgress) : undefined;
  const dumpErr = new StderrTail(dump.stderr);
  const restoreErr = new StderrTail(restore.stderr);

  let firstFailure: 'pg_dump' | 'psql' | undefined;
  let stopping = false;
  const stopBoth = () => {
    stopping = true;
    dump.kill('SIGTERM');
    restore.kill('SIGTERM');
  };
  // pg_dump exiting with an error before ayb stopped it is the cause, even when psql, fed the
  // cut-off stream, happens to be reported first. (pg_dump exits 1 on SIGTERM too, so the exit
  // code alone cannot tell.)
  let dumpFailedItself = false;
  dump.once('exit', (code) => {
    if (code !== 0 && code !== null && !stopping) dumpFailedItself = true;
  });
  const onAbort = () => stopBoth();
  signal?.addEventListener('abort', onAbort, { once: true });
  const rewriting = rewriter
    ? pipeline(dump.stdout!, rewriter, restore.stdin!).catch((error: unknown) => {
        // A broken pipe is the consequence of a tool that failed (reported below); anything else is the rewriter's own.
        if (!stopping && !/EPIPE|ERR_STREAM_PREMATURE_CLOSE|ECONNRESET/.test(String((error as NodeJS.ErrnoException).code ?? ''))) {
          rewriteFailure = error as Error;
          stopBoth();
        }
      })
    : undefined;

  // pg_dump failing to write its output (killed by SIGPIPE, or EPIPE or ECONNRESET on the socket
  // it shares with psql) means psql went away first: that is psql's failure, even when psql's exit
  // is reported after pg_dump's.
  const dumpLostItsReader = (result: { signal?: string }) =>
    result.signal === 'SIGPIPE' || /could not write to output file/i.test(dumpErr.lines());

  // psql reports its own failure soon after; should it hang instead, it is stopped all the same.
  let graceTimer: NodeJS.Timeout | undefined;
  const watch = (child: ResultPromise, name: 'pg_dump' | 'psql') =>
    child.then((result) => {
      const consequence = name === 'pg_dump' && dumpLostItsReader(result);
      if (result.exitCode !== 0 && firstFailure === undefined && !signal?.aborted) {
        if (consequence) {
          graceTimer = setTimeout(stopBoth, READER_GRACE_MS);
        } else {
          firstFailure = name;
          stopBoth();
        }
      }
      return result;
    });

  const [dumpResult, restoreResult] = await Promise.all([watch(dump, 'pg_dump'), watch(restore, 'psql'), rewriting]);
  clearTimeout(graceTimer);
  await progress?.stop();
  signal?.removeEventListener('abort', onAbort);

  if (signal?.aborted) throw signal.reason instanceof AybError ? signal.reason : new Error('aborted');
  if (rewriteFailure) {
    throw new ExternalError('dump_rewrite_failed', `rewriting the dump failed: ${scrubSecret(rewriteFailure.message, source)}`, {
      hint: 'check the masking rules (ayb mask check --from <source>)',
      cause: rewriteFailure,
    });
  }
  const failed = dumpFailedItself && !dumpLostItsReader(dumpResult)
    ? 'pg_dump'
    : firstFailure ?? (dumpResult.exitCode !== 0 ? 'pg_dump' : restoreResult.exitCode !== 0 ? 'psql' : undefined);
  if (failed === 'pg_dump') {
    const said = dumpErr.lines();
    if (request.lockWaitTimeoutMs && /statement timeout|lock timeout|could not obtain lock/i.test(said)) {
      throw dumpLockTimeout(said, source, request.lockWaitTimeoutMs);
    }
    throw toolFailure('pg_dump', dumpResult.exitCode, dumpResult.signal, said, source);
  }
  if (failed === 'psql') {
    throw toolFailure('psql', restoreResult.exitCode, restoreResult.signal, restoreErr.lines(), target);
  }
}

/** How long psql may take to exit after pg_dump found it gone (see dumpLostItsReader). */
const READER_GRACE_MS = 5_000;

/**
 * The hint for a failed restore, from what psql said: a server that went away (restart, crash,
 * outage) is not a missing role or extension, and the fix differs.
 */
export function restoreFailureHint(stderr: string): string {
  if (/server closed the connection|terminating connection|connection to server .* failed|could not connect|Connection refused|the database system is (shutting down|starting up|in recovery mode)|no connection to the server/i.test(stderr)) {
    return 'the server went away during the restore (a restart, a crash or an outage), not the dump: create the branch again once the server is back';
  }
  if (/No space left on device|could not extend file/i.test(stderr)) {
    return 'the branch\'s server ran out of disk during the restore: free space, then create the branch again';
  }
  return 'the restore into the branch failed: check the error above (a missing role or extension on this server is common)';
}

/** pg_dump could not lock a table within --lock-wait-timeout: someone holds a conflicting lock (exit 4). */
function dumpLockTimeout(stderr: string, source: ConnInfo, waitedMs: number): ConflictError {
  const table = /LOCK TABLE (\S+)/.exec(stderr)?.[1];
  return new ConflictError('lock_timeout', `pg_dump gave up after ${waitedMs / 1000}s waiting for a lock on ${table ? `table ${table}` : 'a table'} of "${source.database}": another session holds a conflicting lock (${quoted(stderr, source)})`, {
    hint: `find that session (${FIND_LOCK_HOLDERS_SQL}), end its transaction, then create the branch again; the wait is ${describeLimit('lock')}`,
    details: { tool: 'pg_dump', ...(table ? { table } : {}) },
  });
}

/** A tool's stderr lines on one line of an error message, passwords masked. */
function quoted(stderr: string, conn: ConnInfo): string {
  return scrubSecret(stderr, conn).replace(/\s*\n\s*/g, ' | ');
}

function toolFailure(tool: 'pg_dump' | 'psql', exitCode: number | undefined, signal: string | undefined, stderr: string, conn: ConnInfo): ExternalError {
  const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode ?? 'unknown'}`;
  const detail = quoted(stderr, conn);
  const message = `${tool} ${how}${detail ? `: ${detail}` : ''}`;
  return new ExternalError(`${tool}_failed`, message, {
    hint: tool === 'pg_dump'
      ? 'check that the source database exists, is reachable and readable by this role'
      : restoreFailureHint(stderr),
    details: { tool },
  });
}
