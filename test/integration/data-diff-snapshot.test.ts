import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openContext, type OpenedContext } from '../../src/branching/context.js';
import { diffBranchData } from '../../src/branching/data-diff.js';
import { loadConfig } from '../../src/config/resolve.js';
import { openAyb } from '../../src/lib/index.js';
import { readFile } from 'node:fs/promises';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 24 item 7: a data diff holds no snapshot on main between tables, except for --output sql with
 * main as the side whose rows the script writes (`ayb branch diff <branch> main --data --output sql`):
 * those rows must come from one moment (data-diff-outsider2 shows a script from tables read at
 * different moments of a busy main breaking a foreign key), so main is held for that diff's reading.
 * Judged from a second session: pg_stat_activity's backend_xmin of the client sessions on main's
 * database, read while the diff waits at a gate before each table.
 */
describe('ayb branch diff --data: the snapshot held on main', () => {
  let cluster: TestCluster;
  let ctx: OpenedContext;
  let library: Awaited<ReturnType<typeof openAyb>>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(`
      CREATE TABLE a1 (id int PRIMARY KEY, v text); CREATE TABLE a2 (id int PRIMARY KEY, v text); CREATE TABLE a3 (id int PRIMARY KEY, v text);
      INSERT INTO a1 SELECT i, 'x' || i FROM generate_series(1, 100) i; INSERT INTO a2 SELECT * FROM a1; INSERT INTO a3 SELECT * FROM a1;`, [], 'app');
    library = await openAyb({ databaseUrl: cluster.url('app'), env: {}, cwd: os.tmpdir() });
    await library.create('feat', { strategy: 'template' });
    await cluster.query("UPDATE a1 SET v = 'main' WHERE id < 5; UPDATE a3 SET v = 'main' WHERE id > 95", [], 'app');
    ctx = await openContext(await loadConfig({ databaseUrl: cluster.url('app'), env: {}, cwd: os.tmpdir() }));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Client sessions on main's database (other than the asking one) that hold back its vacuum horizon. */
  async function holdersOnMain(): Promise<number> {
    const { rows } = await cluster.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'app' AND backend_type = 'client backend' AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid()`, [], 'postgres');
    return rows[0]!.n;
  }

  for (const [from, to] of [['feat', 'main'], ['main', 'feat']] as const) {
    for (const sql of [true, false]) {
      const heldWhole = sql && to === 'main';
      it(`${from} → ${to}${sql ? ' --output sql' : ''}: ${heldWhole ? 'main is held at one moment for the whole read' : 'no session on main holds a snapshot between tables'}`, async () => {
        const seen: number[] = [];
        const result = await diffBranchData(ctx, from, to, { sql, beforeTable: async () => { seen.push(await holdersOnMain()); } });
        if (result.migration) {
          // The script makes a copy of `from` equal `to`.
          const script = await readFile(result.migration.path, 'utf8');
          await result.migration.remove();
          const copy = `${from}-r${to}`;
          await library.create(copy, { from, strategy: 'template' });
          const db = `ayb_branch_${copy.replace(/-/g, '_')}`;
          await runPsql(cluster, db, { sql: script });
          const toDb = to === 'main' ? 'app' : `ayb_branch_${to}`;
          expect((await fingerprint(cluster, db)).tables).toEqual((await fingerprint(cluster, toDb)).tables);
        }
        expect(seen).toHaveLength(3);
        expect(seen).toEqual(heldWhole ? [1, 1, 1] : [0, 0, 0]);
        const counts = Object.fromEntries(result.comparison.tables.map((t) => [t.plan.name, t.changed.length]));
        expect(counts).toEqual({ a1: 4, a2: 0, a3: 5 });
      });
    }
  }
});
