import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { waitUntil } from '../helpers/gate.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25 item 7 (Size): a dry run of a merge large enough to stage more than one round of keys
 * (50,000 a round) holds no lock on the target beyond ACCESS SHARE, judged from pg_locks by another
 * session while the dry run is stopped at a gate, and changes nothing (fingerprints before and after).
 *
 * The gate: the plan reads the target's sequences last, after every table's three-way comparison
 * (sequenceMerge, for a sequence the branch advanced), still inside its read-only transaction, which
 * keeps every lock the plan took. A session of the test renames that sequence in an open transaction
 * (ACCESS EXCLUSIVE): the plan waits there, holding whatever it holds, until the test rolls back.
 */
describe('ayb branch merge: a large dry run takes nothing beyond ACCESS SHARE on the target', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const { scenario, psql } = mergeHarness(() => cluster);

  it('while the plan is held after its comparisons, every lock of the merge on the target is ACCESS SHARE, and the dry run changes nothing', async () => {
    const ayb = await scenario('s_locks', `
      CREATE TABLE a (id int PRIMARY KEY, v text, w int);
      CREATE TABLE z (id serial PRIMARY KEY, a_id int REFERENCES a, note text);
      INSERT INTO a SELECT i, 'a' || i, i FROM generate_series(1, 70000) i;
      INSERT INTO z (a_id, note) SELECT i, 'z' || i FROM generate_series(1, 2000) i;
    `);
    await ayb.branch('big');
    // More than one round of keys (60,000 updated), deletes, inserts, and a sequence the branch advances.
    await psql('ayb_branch_big', `
      UPDATE a SET v = 'branch' WHERE id <= 60000;
      DELETE FROM z WHERE id % 10 = 0;
      INSERT INTO z (a_id, note) SELECT i, 'new' FROM generate_series(1, 500) i;
    `);
    // Main meanwhile: another column of some of the same rows (cell-wise, no conflict).
    await psql('s_locks', `UPDATE a SET w = -w WHERE id % 7 = 0;`);
    const before = await fingerprint(cluster, 's_locks');
    const sequenceBefore = (await cluster.query<{ v: string }>(`SELECT last_value::text AS v FROM z_id_seq`, [], 's_locks')).rows[0]!.v;

    const { conn } = cluster;
    const session = () => new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: 's_locks', application_name: 'test-observer' });
    const holder = session();
    const observer = session();
    await holder.connect();
    await observer.connect();
    let dry: ReturnType<typeof ayb> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('ALTER SEQUENCE z_id_seq RENAME TO z_id_seq_held');
      const ours = [holder, observer].map((c) => (c as unknown as { processID: number }).processID);
      dry = ayb('branch', 'merge', 'big', '--dry-run', '--json');
      let finished = false;
      void dry.finally(() => { finished = true; });
      // Every relation lock in the target's database of sessions other than the test's, temporary relations aside.
      const locks = async () => (await observer.query<{ relname: string; mode: string; granted: boolean }>(
        `SELECT coalesce(c.relname, l.relation::text) AS relname, l.mode, l.granted FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
          WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND NOT l.pid = ANY ($1) AND coalesce(c.relpersistence, 'p') <> 't' ORDER BY 1, 2`, [ours])).rows;
      // The gate: the plan waits for the sequence, after both tables were compared (their locks held by its transaction).
      const held = await waitUntil('the dry run to wait at the sequence, past both tables', async () => {
        const now = await locks();
        const waiting = now.some((l) => l.relname === 'z_id_seq' && !l.granted);
        const past = ['a', 'z'].every((t) => now.some((l) => l.relname === t && l.granted));
        return waiting && past ? now : undefined;
      }, { unless: () => (finished ? 'the dry run ended before reaching the gate' : undefined) });
      const stronger = held.filter((l) => l.mode !== 'AccessShareLock');
      expect(stronger, JSON.stringify(held)).toEqual([]);
      expect(held.filter((l) => l.relname === 'a' || l.relname === 'z').map((l) => `${l.relname} ${l.mode} ${l.granted}`)).toEqual(['a AccessShareLock true', 'z AccessShareLock true']);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await observer.end();
    }
    const result = await dry!;
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    const plan = result.json() as { applied: boolean; tables: { table: string; inserted: number; updated: number; deleted: number; merged_by: string }[] };
    expect(plan.applied).toBe(false);
    expect(plan.tables.map((t) => [t.table, t.inserted, t.updated, t.deleted, t.merged_by]).sort()).toEqual([
      ['public.a', 0, 60000, 0, 'server'],
      ['public.z', 500, 0, 200, 'server'],
    ]);
    expect((await fingerprint(cluster, 's_locks')).tables).toEqual(before.tables);
    expect((await cluster.query<{ v: string }>(`SELECT last_value::text AS v FROM z_id_seq`, [], 's_locks')).rows[0]!.v).toBe(sequenceBefore);
  });
});
