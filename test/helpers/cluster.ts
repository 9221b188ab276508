import { existsSync } from 'node:fs';
import { mkdtemp, chmod, mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { inject } from 'vitest';
import { destroyManagedCluster, ensureManagedCluster, MANAGED_DATABASE, stopManagedCluster } from '../../src/postgres/managed/index.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { waitUntil } from './gate.js';
import { freePort } from '../../src/postgres/ports.js';

export { freePort };

declare module 'vitest' {
  export interface ProvidedContext {
    /** Folder of the run's shared clusters (test/helpers/shared-clusters.ts), one per worker slot. */
    aybSharedClusterRoot?: string;
  }
}

/**
 * A PostgreSQL cluster for one test file, started by the same managed-cluster code that `ayb` uses,
 * on 127.0.0.1 and a free port, reset to the state of a fresh one (databases `postgres` and `ayb`,
 * no other role, no setting changed) when the file starts.
 *
 * By default the cluster is shared: a run starts one per worker slot (`VITEST_POOL_ID`, 1 to
 * maxWorkers; vitest gives a slot to one file at a time), the first file of a slot initialises it,
 * later ones reset it, and the run's global teardown removes it. Files of one slot run one after
 * the other, so branch databases (named `ayb_branch_<name>` cluster-wide) never collide. `stop()`
 * only hands the slot back. A file that stops or reconfigures the server itself must ask for a
 * private cluster (`{ private: true }`), which `stop()` removes.
 */
export interface TestCluster {
  readonly dataDir: string;
  readonly port: number;
  /** Superuser connection to the main database `ayb`. */
  readonly conn: ConnInfo;
  /** A postgres:// URL (password included) for a database on this cluster. */
  url(database?: string): string;
  /** Runs SQL as the superuser against a database (default: `ayb`). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult<T>>;
  /** Creates an empty database, dropping any previous one of that name. */
  createDatabase(name: string): Promise<void>;
  /**
   * The usual set-up of a CLI test: database `app` made anew, `sql` run in it, and the environment
   * that makes it ayb's main database (`{ AYB_DATABASE_URL }`), to pass to runCli.
   */
  createApp(sql?: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  /** A cluster of the file's own, started now and removed by `stop()`: for files that stop, restart or reconfigure the server. */
  readonly private?: boolean;
}

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const root = options.private ? undefined : sharedRoot();
  if (root === undefined) return startPrivateCluster();
  const slot = process.env.VITEST_POOL_ID;
  if (!slot || !/^\d+$/.test(slot)) throw new Error(`VITEST_POOL_ID is "${slot}": cannot pick this worker's shared cluster`);
  const slotDir = path.join(root, `pool-${slot}`);
  await mkdir(slotDir, { recursive: true, mode: 0o755 });
  const release = await claimSlot(slotDir);
  try {
    const dataDir = path.join(slotDir, 'data');
    const cluster = await ensureManagedCluster({ dataDir, port: await freePort() });
    await withoutFsync(dataDir, cluster.conn);
    await resetCluster(cluster.conn);
    return clusterHandle(dataDir, cluster.port, cluster.conn, release);
  } catch (error) {
    await release();
    throw error;
  }
}

function sharedRoot(): string | undefined {
  try {
    return inject('aybSharedClusterRoot');
  } catch {
    return undefined; // not under vitest's runner with our global setup
  }
}

/**
 * A second guard besides vitest's slot accounting: the slot's claim file names the process using
 * it, and a live other process there means two files would share a cluster at the same time.
 */
async function claimSlot(slotDir: string): Promise<() => Promise<void>> {
  const claim = path.join(slotDir, 'claim');
  const holder = Number((await readFile(claim, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid) {
    // A worker whose file ended without stop() may still be on its way out.
    await waitUntil(`process ${holder}, which claimed shared cluster ${slotDir}, to end`, async () => !isAlive(holder));
  }
  await writeFile(claim, String(process.pid));
  return async () => {
    const current = (await readFile(claim, 'utf8').catch(() => '')).trim();
    if (current === String(process.pid)) await rm(claim, { force: true });
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Brings a used cluster back to the state of a fresh one: no other session, only the databases
 * template0, template1, postgres and ayb (postgres and ayb made anew), no role but the superuser,
 * no per-role, per-database or ALTER SYSTEM setting. Runs from template1, which tests never touch.
 */
export async function resetCluster(conn: ConnInfo): Promise<void> {
  const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: 'template1', application_name: 'test-reset' });
  await client.connect();
  try {
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
    );
    const { rows: databases } = await client.query<{ datname: string; datistemplate: boolean }>(
      "SELECT datname, datistemplate FROM pg_database WHERE datname NOT IN ('template0', 'template1') ORDER BY datname",
    );
    for (const { datname, datistemplate } of databases) {
      if (datistemplate) await client.query(`ALTER DATABASE ${quoteIdent(datname)} WITH IS_TEMPLATE false`);
      await client.query(`DROP DATABASE ${quoteIdent(datname)} WITH (FORCE)`);
    }
    const { rows: settings } = await client.query<{ role: string | null; db: string | null }>(
      `SELECT r.rolname AS role, d.datname AS db FROM pg_db_role_setting s
         LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase`,
    );
    for (const { role, db } of settings) {
      const who = role === null ? 'ALL' : quoteIdent(role);
      await client.query(db === null ? `ALTER ROLE ${who} RESET ALL` : role === null ? `ALTER DATABASE ${quoteIdent(db)} RESET ALL` : `ALTER ROLE ${who} IN DATABASE ${quoteIdent(db)} RESET ALL`);
    }
    const { rows: roles } = await client.query<{ rolname: string }>(
      "SELECT rolname FROM pg_roles WHERE rolname <> current_user AND rolname NOT LIKE 'pg\\_%' ORDER BY rolname",
    );
    for (const { rolname } of roles) {
      await client.query(`DROP OWNED BY ${quoteIdent(rolname)}`);
      await client.query(`DROP ROLE ${quoteIdent(rolname)}`);
    }
    const { rows: system } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'",
    );
    if (system[0]!.n > 0) {
      await client.query('ALTER SYSTEM RESET ALL');
      await client.query('SELECT pg_reload_conf()');
    }
    await client.query(`CREATE DATABASE postgres ${COPY_FILES}`);
    await client.query(`CREATE DATABASE ${quoteIdent(MANAGED_DATABASE)} ${COPY_FILES}`);
  } finally {
    await client.end();
  }
}

/**
 * The databases the test helpers make are copied file by file, not through the WAL (PostgreSQL 15's
 * default, WAL_LOG, writes every page of the template into the WAL): half the server's CPU per
 * CREATE DATABASE (0.04-0.06 s against 0.13-0.15 s, 15 of each under load 17), and no checkpoint
 * wait with fsync off. The databases themselves are the same; ayb's own copies choose for themselves.
 */
export const COPY_FILES = 'STRATEGY FILE_COPY';

const NO_FSYNC = 'fsync = off # ayb tests only (test/helpers/cluster.ts)';

/**
 * A test cluster runs with `fsync = off`: its files die with the run, and no test crashes the
 * machine under it. A stopped or killed server (what tests do) loses nothing: the written data is
 * in the OS cache. It spares the disk waits of every CREATE DATABASE … STRATEGY FILE_COPY (a branch
 * by template: about 1 s each on a shared disk), checkpoint and commit. Only fsync changes: a test
 * that checks a setting ayb chooses (synchronous_commit of a restore, say) still sees the defaults.
 * Written in postgresql.conf, not by ALTER SYSTEM, so resetCluster keeps it and
 * postgresql.auto.conf stays the test's; copies of the data folder (base backups) take it along.
 */
async function withoutFsync(dataDir: string, conn: ConnInfo): Promise<void> {
  const conf = path.join(dataDir, 'postgresql.conf');
  const text = await readFile(conf, 'utf8');
  if (text.includes(NO_FSYNC)) return;
  await writeFile(conf, `${text}\n${NO_FSYNC}\n`);
  const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: 'postgres', application_name: 'test-reset' });
  await client.connect();
  try {
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
}

async function startPrivateCluster(): Promise<TestCluster> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ayb-test-'));
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  const pristine = await pristineDataDir();
  if (pristine) {
    // A copy of the run's fresh cluster (its owner and modes kept), started on a port of its own.
    await execa('cp', ['-a', pristine, dataDir]);
    await truncate(path.join(dataDir, 'postgres.log')).catch(() => undefined);
  }
  const cluster = await ensureManagedCluster({ dataDir, port: await freePort() });
  await withoutFsync(dataDir, cluster.conn);
  return clusterHandle(dataDir, cluster.port, cluster.conn, async () => {
    await destroyManagedCluster({ dataDir });
    await rm(root, { recursive: true, force: true });
  });
}

let pristine: Promise<string | undefined> | undefined;

/**
 * A fresh cluster, made once per run (initdb, the database ayb, fsync off) and stopped, in the run's
 * shared folder: a private cluster is a copy of its data folder (cp -a: 0.6 s where initdb takes
 * 2 to 5 s on a busy machine). The first worker to need it makes it, the others wait for its
 * `ready` file. Undefined outside vitest's runner or when making it failed (initdb is used then).
 */
function pristineDataDir(): Promise<string | undefined> {
  pristine ??= makePristine();
  return pristine;
}

async function makePristine(): Promise<string | undefined> {
  const root = sharedRoot();
  if (root === undefined) return undefined;
  const dir = path.join(root, 'pristine');
  const dataDir = path.join(dir, 'data');
  const ready = path.join(dir, 'ready');
  const failed = path.join(dir, 'failed');
  try {
    await mkdir(dir, { mode: 0o755 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await waitUntil('the run\'s pristine cluster to be made', async () => existsSync(ready) || existsSync(failed), 180_000);
    return existsSync(ready) ? dataDir : undefined;
  }
  try {
    const cluster = await ensureManagedCluster({ dataDir, port: await freePort() });
    await withoutFsync(dataDir, cluster.conn);
    await stopManagedCluster({ dataDir });
    await writeFile(ready, '');
    return dataDir;
  } catch (error) {
    await writeFile(failed, String(error));
    return undefined;
  }
}

function clusterHandle(dataDir: string, port: number, conn: ConnInfo, stop: () => Promise<void>): TestCluster {
  const query = async <T extends pg.QueryResultRow>(sql: string, params?: unknown[], database = conn.database) => {
    const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database });
    await client.connect();
    try {
      return await client.query<T>(sql, params);
    } finally {
      await client.end();
    }
  };
  const url = (database = conn.database) => formatConnInfo(withDatabase(conn, database), { showPassword: true });
  const createDatabase = async (name: string) => {
    await query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, [], 'postgres');
    await query(`CREATE DATABASE ${quoteIdent(name)} ${COPY_FILES}`, [], 'postgres');
  };
  return {
    dataDir,
    port,
    conn,
    url,
    query,
    createDatabase,
    async createApp(sql) {
      await createDatabase('app');
      if (sql) await query(sql, [], 'app');
      return { AYB_DATABASE_URL: url('app') };
    },
    stop,
  };
}
