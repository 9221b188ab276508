import os from 'node:os';
import { expect } from 'vitest';
import { openAyb } from '../../src/lib/index.js';
import { type CliResult, runCli } from './cli.js';
import type { TestCluster } from './cluster.js';
import { runPsql } from './pagila.js';

/** `ayb <args>` as a CLI process on one scenario's main database, and the set-up of its branch. */
export interface ScenarioCli {
  (...args: string[]): Promise<CliResult>;
  /**
   * `ayb branch create <name> --keep-base` done through ayb's library, in this process: the set-up
   * of a merge, not what merge-exact and merge-attack check (a CLI process costs ~0.4 s to start).
   */
  branch(name: string): Promise<void>;
}

/**
 * The harness of merge-exact and merge-attack: each scenario is a database of its own playing main
 * (`sql` run in it through psql), with a CLI bound to it; rows are read as the server's own row
 * text (`t::text`), never through ayb.
 */
export function mergeHarness(cluster: () => TestCluster) {
  const scenario = async (database: string, sql: string): Promise<ScenarioCli> => {
    await cluster().createDatabase(database);
    await runPsql(cluster(), database, { sql });
    const env = { AYB_DATABASE_URL: cluster().url(database), AYB_LOCK_TIMEOUT: '5s' };
    const cli = (...args: string[]) => runCli(args, { env });
    return Object.assign(cli, {
      async branch(name: string) {
        const library = await openAyb({ databaseUrl: env.AYB_DATABASE_URL, env: { AYB_LOCK_TIMEOUT: env.AYB_LOCK_TIMEOUT }, cwd: os.tmpdir() });
        const created = await library.create(name, { keepBase: true });
        expect(created.name).toBe(name);
      },
    });
  };
  const rows = async (database: string, table: string) =>
    (await cluster().query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY t::text`, [], database)).rows.map((r) => r.t);
  const psql = (database: string, sql: string) => runPsql(cluster(), database, { sql });
  /** The database's foreign keys as pg_constraint holds them: definition, validated, comment. */
  const foreignKeys = async (database: string) =>
    (await cluster().query<{ d: string }>(
      `SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated || ' ' || coalesce(obj_description(oid, 'pg_constraint'), '-') AS d
         FROM pg_constraint WHERE contype = 'f' ORDER BY 1`, [], database)).rows.map((r) => r.d);
  return { scenario, rows, psql, foreignKeys };
}
