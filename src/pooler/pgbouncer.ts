import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { AybError, UsageError } from '../core/errors.js';
import { type ConnInfo, formatConnInfo } from '../postgres/conninfo.js';

/**
 * A PgBouncer that `ayb start --pooler` runs for the databases of the server it manages (main and
 * its branches), so that a branch of a database agents are connected to can still be a template
 * copy: a template copy needs the source without sessions, and the pooler can take its server
 * sessions away for the time of the copy (`PAUSE db`: waits for the transactions running through it
 * to end and closes its server connections; `RESUME db` after) while its clients stay connected.
 *
 * Transaction pooling: a client has a server session only during a transaction. That is what lets
 * PAUSE finish while clients sit idle, and it is what a client gives up: session state (SET,
 * session advisory locks, LISTEN, temporary tables, prepared statements, WITH HOLD cursors) does not
 * outlive a transaction. Its config lives in a folder of its own (mode 0700), with a userlist of
 * ayb's making (mode 0600): no password in argv or in a log.
 */
export interface Pooler {
  readonly host: string;
  readonly port: number;
  /** `conn` as a client reaches it through the pooler (same database, user and password). */
  through(conn: ConnInfo): ConnInfo;
  /** The URL of `conn` through the pooler, password masked unless asked for. */
  url(conn: ConnInfo, showPassword?: boolean): string;
  /**
   * Runs `fn` with `database`'s server sessions closed by the pooler (its clients wait, connected,
   * until `fn` ends). When the pause does not finish within `waitMs` (a client holds a transaction
   * open), it is undone and `fn` runs anyway, as without a pooler.
   */
  paused<T>(database: string, fn: () => Promise<T>, waitMs?: number): Promise<T>;
  /** `paused` in two steps (for a copy made by another process, pause-socket.ts): pause now, release later. */
  hold(database: string, waitMs?: number): Promise<PauseHold>;
  stop(): Promise<void>;
}

export interface PauseHold {
  /** Whether the pooler paused the database (false: not served yet, or a transaction held it past the wait). */
  readonly paused: boolean;
  /** Lets go; the last hold of a database resumes it. Safe to call twice. */
  release(): Promise<void>;
}

export interface PoolerOptions {
  readonly main: ConnInfo;
  readonly log?: (line: string) => void;
  /** The pgbouncer program; default: found on PATH or in /usr/sbin. */
  readonly binary?: string;
}

/** Database names ayb pauses: plain identifiers (ayb's own branches and most mains). */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function startPooler(options: PoolerOptions): Promise<Pooler> {
  const { main, log } = options;
  const binary = options.binary ?? findPgbouncer();
  if (!binary) {
    throw new UsageError('--pooler needs PgBouncer, which is not installed', { hint: 'install it (Debian/Ubuntu: apt-get install pgbouncer), or start without --pooler' }, 'pooler_not_installed');
  }
  if (main.password === undefined || main.password === '') {
    throw new UsageError('--pooler needs the main database URL to carry a password (the pooler logs in to the server with it)', { hint: 'use a URL with a password, or start without --pooler' }, 'pooler_failed');
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-pooler-'));
  const port = await freePort();
  const runAs = serviceUser();
  const ini = path.join(dir, 'pgbouncer.ini');
  const users = path.join(dir, 'userlist.txt');
  await writeFile(users, `${quoted(main.user!)} ${quoted(main.password!)}\n`, { mode: 0o600 });
  await writeFile(ini, [
    '[databases]',
    // Any database name goes to the same server under the same name: main and every branch.
    `* = host=${main.host} port=${main.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${users}`,
    `admin_users = ${main.user!}`,
    'pool_mode = transaction',
    'max_client_conn = 500',
    'default_pool_size = 20',
    'ignore_startup_parameters = extra_float_digits,options',
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n'), { mode: 0o600 });
  if (runAs) {
    await chmod(dir, 0o700);
    for (const file of [dir, ini, users]) await chown(file, runAs.uid, runAs.gid);
  }
  const { execa } = await import('execa');
  // Its own environment: the pooler needs none of ayb's (AYB_DATABASE_URL holds a password).
  const child = execa(binary, [ini], { uid: runAs?.uid, gid: runAs?.gid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false, reject: false, stdin: 'ignore', all: true });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const admin = (): Promise<pg.Client> => adminClient(port, main);
  const through = (conn: ConnInfo): ConnInfo => ({ ...conn, host: '127.0.0.1', port, params: { ...conn.params, sslmode: 'disable' } });
  const stop = async () => {
    child.kill('SIGTERM');
    await child;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilListening(port, child, () => output + readLog(dir));
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const hold = pauseHolds(admin, log);
  log?.(`PgBouncer (transaction pooling) listening on 127.0.0.1:${port} for the branches of ${main.database}`);
  return {
    host: '127.0.0.1',
    port,
    through,
    url: (conn, showPassword = false) => formatConnInfo(through(conn), { showPassword }),
    async paused(database, fn, waitMs = 10_000) {
      const held = await hold(database, waitMs);
      try {
        return await fn();
      } finally {
        await held.release();
      }
    },
    hold,
    stop,
  };
}

/**
 * PAUSE waits for the transactions through the pooler to end. One held open longer than `waitMs`:
 * the pause is called off (RESUME on another admin session) and the copy goes on without it.
 * A database the pooler has not served yet has no pool to pause: nothing to wait for.
 */
async function pause(client: pg.Client, database: string, waitMs: number, admin: () => Promise<pg.Client>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), waitMs); });
  const asked = client.query(`PAUSE ${database}`).then(() => 'paused' as const, (error: unknown) => error as Error);
  try {
    const outcome = await Promise.race([asked, timedOut]);
    if (outcome === 'paused') return true;
    if (outcome === 'timeout') {
      const other = await admin();
      try {
        await other.query(`RESUME ${database}`);
      } finally {
        await other.end().catch(() => undefined);
      }
      await asked;
      return false;
    }
    if (/no such database/i.test(outcome.message)) return false;
    throw outcome;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One pause per database however many copies of it run at once (the admin API's requests and the
 * CLI's, through pause-socket.ts): the first asks PAUSE, the last one out RESUME. A new pause
 * after a RESUME waits for that RESUME to be done, so the two never cross on the pooler.
 */
function pauseHolds(admin: () => Promise<pg.Client>, log?: (line: string) => void): (database: string, waitMs?: number) => Promise<PauseHold> {
  const holds = new Map<string, { count: number; paused: Promise<boolean> }>();
  const resuming = new Map<string, Promise<void>>();
  const hold = async (database: string, waitMs = 10_000): Promise<PauseHold> => {
    if (!PLAIN_NAME.test(database)) return { paused: false, release: async () => undefined };
    let entry = holds.get(database);
    if (!entry) {
      const previous = resuming.get(database) ?? Promise.resolve();
      const paused = previous.then(async () => {
        const client = await admin();
        try {
          return await pause(client, database, waitMs, admin);
        } finally {
          await client.end().catch(() => undefined);
        }
      }).catch((error: unknown) => {
        log?.(`note: could not pause ${database} in the pooler (${(error as Error).message}); copying without`);
        return false;
      });
      entry = { count: 0, paused };
      holds.set(database, entry);
    }
    entry.count++;
    const mine = entry;
    const paused = await mine.paused;
    let released = false;
    return {
      paused,
      release: async () => {
        if (released) return;
        released = true;
        if (--mine.count > 0) return;
        holds.delete(database);
        if (!paused) return;
        const done = resume(database).finally(() => { if (resuming.get(database) === done) resuming.delete(database); });
        resuming.set(database, done);
        await done;
      },
    };
  };
  const resume = async (database: string): Promise<void> => {
    try {
      const client = await admin();
      try {
        await client.query(`RESUME ${database}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (error) {
      log?.(`warning: RESUME ${database} failed: ${(error as Error).message}`);
    }
  };
  return hold;
}

function adminClient(port: number, main: ConnInfo): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: main.user, password: main.password, database: 'pgbouncer', application_name: 'ayb', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  return client.connect().then(() => client);
}

function quoted(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

function findPgbouncer(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(path.join(dir, 'pgbouncer'))) return path.join(dir, 'pgbouncer');
  }
  return undefined;
}

/** PgBouncer refuses to run as root: as root, it runs as the `postgres` OS user (else `nobody`). */
function serviceUser(): { readonly uid: number; readonly gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':'));
  for (const name of ['postgres', 'nobody']) {
    const found = passwd.find((fields) => fields[0] === name && fields[2] !== '0');
    if (found) return { uid: Number(found[2]), gid: Number(found[3]) };
  }
  throw new UsageError('ayb runs as root, and PgBouncer refuses to; no unprivileged OS user "postgres" or "nobody" exists', { hint: 'create one (useradd --system postgres)' }, 'pooler_failed');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function readLog(dir: string): string {
  try {
    return readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8');
  } catch {
    return '';
  }
}

/** Until the pooler accepts connections; its exit or 10 s without it is a failure, with its own words. */
async function waitUntilListening(port: number, child: Promise<unknown> & { exitCode?: number | null }, said: () => string): Promise<void> {
  let exited = false;
  void child.then(() => { exited = true; }, () => { exited = true; });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await accepts(port)) return;
    if (exited || Date.now() > deadline) {
      throw new AybError('pooler_failed', 1, `PgBouncer did not start${exited ? ' (it exited)' : ''}: ${said().trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
