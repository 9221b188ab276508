import os from 'node:os';
import { execa } from 'execa';
import { expect } from 'vitest';
import { type Ayb, openAyb } from '../../src/lib/index.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { type CliResult, runCli } from './cli.js';
import { startTestCluster, type TestCluster } from './cluster.js';
import { fingerprint } from './fingerprint.js';
import { libpqEnv, runPsql } from './pagila.js';

/** The database of ayb branch `name`. */
export const dbOf = (branch: string): string => `ayb_branch_${branch.replace(/-/g, '_')}`;

export interface RoundTripOptions {
  /** Run in the copy of main before the script (a schema migration the data script needs first). */
  readonly replayChanges?: string;
  /** Extra libpq environment of the session that applies the script (PGCLIENTENCODING, another PGUSER). */
  readonly applyEnv?: Record<string, string>;
}

/**
 * The harness of the data diff's round trip (issue 24), shared by data-diff-exact and
 * data-diff-attack: main is database `app` of the cluster. Branches are made through ayb's
 * library, in this process: they are the set-up, not what these files check (ayb branch create is
 * the CLI's own tests'), and a CLI process costs ~0.4 s to start. What is checked, `ayb branch diff
 * --data`, is run as the CLI a user runs.
 */
export interface DataDiffHarness {
  /** `ayb <args>` as a CLI process, on main `app`. */
  ayb(...args: string[]): Promise<CliResult>;
  /** A branch of main made with the template strategy, `changes` (SQL, through psql) run in it; its database. */
  branch(name: string, changes?: string): Promise<string>;
  /** Database-level settings (`ALTER DATABASE … SET`), taken by the sessions opened afterwards. */
  setDatabase(db: string, settings: readonly string[]): Promise<void>;
  /** Applies a script with psql in a session of its own (with extra libpq environment); throws psql's output on failure. */
  apply(db: string, sql: string, extraEnv?: Record<string, string>): Promise<void>;
  /**
   * The round trip: ayb's DML from main to branch `name` (which exists), applied to a fresh copy of
   * main, both under foreign session settings, makes the copy's rows those of the branch, judged by
   * fingerprints of ordered rows read with default settings; triggers held off by the script are
   * back on. Returns the script.
   */
  roundTrip(name: string, options?: RoundTripOptions): Promise<string>;
}

export async function dataDiffHarness(cluster: TestCluster, settings: { readonly foreign: readonly string[]; readonly otherForeign: readonly string[] }): Promise<DataDiffHarness> {
  const env = { AYB_DATABASE_URL: cluster.url('app') };
  const library: Ayb = await openAyb({ databaseUrl: cluster.url('app'), env: {}, cwd: os.tmpdir() });
  const ayb = (...args: string[]) => runCli(args, { env });

  const setDatabase = async (db: string, list: readonly string[]) => {
    if (list.length > 0) await cluster.query(list.map((s) => `ALTER DATABASE ${quoteIdent(db)} SET ${s};`).join('\n'), [], 'postgres');
  };

  const apply = async (db: string, sql: string, extraEnv: Record<string, string> = {}) => {
    const result = await execa('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1'], { env: { ...libpqEnv(cluster, db), ...extraEnv }, input: sql, reject: false, all: true });
    if (result.exitCode !== 0) throw new Error(`applying the script failed: ${String(result.all)}`);
  };

  const branch = async (name: string, changes?: string) => {
    const created = await library.create(name, { strategy: 'template' });
    expect(created.name).toBe(name);
    if (changes) await apply(dbOf(name), changes);
    return dbOf(name);
  };

  const roundTrip = async (name: string, options: RoundTripOptions = {}) => {
    const b = dbOf(name);
    await setDatabase(b, settings.foreign);
    const replay = await branch(`${name}-r`, options.replayChanges);
    await setDatabase(replay, settings.otherForeign);
    const sql = await ayb('branch', 'diff', 'main', name, '--data', '--output', 'sql');
    expect(sql.exitCode, sql.stderr).toBe(0);
    await apply(replay, sql.stdout, options.applyEnv);
    await cluster.query(`ALTER DATABASE ${quoteIdent(b)} RESET ALL; ALTER DATABASE ${quoteIdent(replay)} RESET ALL;`, [], 'postgres');
    const [got, want, main] = await Promise.all([fingerprint(cluster, replay), fingerprint(cluster, b), fingerprint(cluster, 'app')]);
    expect(got.tables).toEqual(want.tables);
    expect(got.sequences).toEqual(want.sequences);
    expect(want.tables).not.toEqual(main.tables);
    const { rows } = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'`, [], replay);
    expect(rows[0]!.n).toBe('0');
    return sql.stdout;
  };

  return { ayb, branch, setDatabase, apply, roundTrip };
}

/**
 * The set-up of data-diff-exact and data-diff-attack: the worker's shared cluster, main `app` made
 * from `mainSql` (through psql), and the harness on it, with the settings its round trip puts on
 * the branch (`foreign`) and on main's copy (`otherForeign`). The caller stops the cluster.
 */
export async function startDataDiff(
  mainSql: string,
  settings: { readonly foreign: readonly string[]; readonly otherForeign: readonly string[] },
): Promise<{ cluster: TestCluster; h: DataDiffHarness }> {
  const cluster = await startTestCluster();
  try {
    await cluster.createDatabase('app');
    await runPsql(cluster, 'app', { sql: mainSql });
    return { cluster, h: await dataDiffHarness(cluster, settings) };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
