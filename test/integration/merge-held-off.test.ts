import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 24, the merge's apply beside what data-diff-outsider5 found in the data diff's script: the
 * apply holds user triggers off with ALTER TABLE … DISABLE / ENABLE TRIGGER, DDL that (1) PostgreSQL
 * refuses on a table with deferred foreign-key checks pending (55006), and (2) a database's event
 * trigger (an audit of DDL) would log as if it were the user's. Judged by rows computed by hand and
 * the audit log's rows read before and after, as the server writes them (`t::text`).
 */
describe('ayb branch merge: what the apply holds off', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, rows, psql } = mergeHarness(() => cluster);

  it('a table with a trigger and a deferrable foreign key: the merge applies (no ALTER TABLE with checks pending)', async () => {
    const ayb = await scenario('held_dfk', `
      CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TABLE p (id int PRIMARY KEY, v text);
      CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p DEFERRABLE INITIALLY DEFERRED, v text);
      CREATE TRIGGER c_noop BEFORE INSERT OR UPDATE ON c FOR EACH ROW EXECUTE FUNCTION noop();
      INSERT INTO p VALUES (1, 'a'), (2, 'b');
      INSERT INTO c VALUES (1, 1, 'x');
      CREATE TABLE q (id int PRIMARY KEY, v text);
      CREATE TRIGGER q_noop BEFORE INSERT OR UPDATE ON q FOR EACH ROW EXECUTE FUNCTION noop();
      CREATE TABLE qc (id int PRIMARY KEY, q int REFERENCES q DEFERRABLE);
      INSERT INTO q VALUES (1, 'a'), (2, 'b');
      INSERT INTO qc VALUES (1, 1);
    `);
    await ayb.branch('dfk');
    // c: a row inserted (its deferred check pending); q: a row deleted (the check of qc's key on it pending).
    await psql('ayb_branch_dfk', "INSERT INTO c VALUES (2, 2, 'y'); UPDATE c SET v = 'X' WHERE id = 1; DELETE FROM q WHERE id = 2;");
    const merged = await ayb('branch', 'merge', 'dfk', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('held_dfk', 'c')).toEqual(['(1,1,X)', '(2,2,y)']);
    expect(await rows('held_dfk', 'q')).toEqual(['(1,a)']);
  });

  it('an event trigger that logs DDL: the merge leaves no row of its own in the log', async () => {
    const ayb = await scenario('held_evt', `
      CREATE TABLE ddl_log (id bigserial PRIMARY KEY, tag text, obj text);
      CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO public.ddl_log (tag, obj) SELECT c.command_tag, c.object_identity FROM pg_catalog.pg_event_trigger_ddl_commands() c;
      END $$;
      CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION log_ddl();
      CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := '2000-01-01'; RETURN NEW; END $$;
      CREATE TABLE t (id int PRIMARY KEY, v text, touched date);
      CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();
      INSERT INTO t VALUES (1, 'a', NULL), (2, 'b', NULL);
    `);
    await ayb.branch('evt');
    await psql('ayb_branch_evt', "UPDATE t SET v = 'B' WHERE id = 2;");
    const log = await rows('held_evt', 'ddl_log');
    const merged = await ayb('branch', 'merge', 'evt', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // The branch's row as it holds it (its trigger set touched); the log as it was before the merge.
    expect(await rows('held_evt', 't')).toEqual(['(1,a,)', '(2,B,2000-01-01)']);
    expect(await rows('held_evt', 'ddl_log')).toEqual(log);
    // The event trigger is back as it was (enabled, for the target's own DDL).
    expect((await cluster.query<{ e: string }>("SELECT evtenabled::text AS e FROM pg_event_trigger WHERE evtname = 'log_ddl'", [], 'held_evt')).rows).toEqual([{ e: 'O' }]);
  });
});
