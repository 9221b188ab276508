import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';
import { waitUntil } from '../helpers/gate.js';

/**
 * Merges attacked from outside: schemas with triggers, constraint chains, odd types and settings,
 * each merged result compared with a target computed by hand (rows read as the server's own row
 * text, `t::text`, or fingerprints), never with ayb's view of itself.
 */
describe('ayb branch merge: attacked', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A database playing main, with `sql` in it, and a CLI bound to it (test/helpers/merge-scenario.ts). */
  const { scenario, rows, psql } = mergeHarness(() => cluster);

  it('a self-referencing table: rows the branch added that point at each other, and rows it deleted that pointed at each other, merge', async () => {
    const ayb = await scenario('a_selfref', `
      CREATE TABLE staff (id int PRIMARY KEY, boss int REFERENCES staff, name text);
      INSERT INTO staff VALUES (1, NULL, 'ceo'), (5, 1, 'old boss'), (2, 5, 'old worker');
    `);
    await ayb.branch('sr');
    // A new boss 30 with worker 10 (the lower key points at the higher), and the old pair removed.
    await psql('ayb_branch_sr', `INSERT INTO staff VALUES (30, 1, 'new boss'), (10, 30, 'new worker'); DELETE FROM staff WHERE id IN (2, 5);`);
    const merged = await ayb('branch', 'merge', 'sr', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('a_selfref', 'staff')).toEqual(['(1,,ceo)', '(10,30,"new worker")', '(30,1,"new boss")']);
  });

  it('a delete the target\'s new rows still reference (ON DELETE NO ACTION / RESTRICT) is a conflict, not a raw error; nothing is applied', async () => {
    const ayb = await scenario('a_restrict', `
      CREATE TABLE orders (id int PRIMARY KEY, note text);
      CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders, sku text);
      CREATE TABLE pins (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE RESTRICT);
      INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c');
    `);
    await ayb.branch('rs');
    await psql('ayb_branch_rs', `DELETE FROM orders WHERE id IN (1, 2, 3);`);
    await psql('a_restrict', `INSERT INTO items VALUES (7, 1, 'new on main'); INSERT INTO pins VALUES (8, 2);`);
    const before = await fingerprint(cluster, 'a_restrict');
    const refused = await ayb('branch', 'merge', 'rs', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    const conflicts = refused.json().error.conflicts as { table: string; key: unknown; cascade?: { table: string; key: unknown }[] }[];
    expect(conflicts.map((c) => [c.table, c.key, c.cascade?.map(({ table, key }) => ({ table, key }))]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      ['public.orders', { id: '1' }, [{ table: 'public.items', key: { id: '7' } }]],
      ['public.orders', { id: '2' }, [{ table: 'public.pins', key: { id: '8' } }]],
    ]);
    expect(await fingerprint(cluster, 'a_restrict')).toEqual(before);
    // ours: orders 1 and 2 stay (main's rows still point at them), 3 goes.
    const merged = await ayb('branch', 'merge', 'rs', '--strategy', 'ours');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('a_restrict', 'orders')).toEqual(['(1,a)', '(2,b)']);
    expect(await rows('a_restrict', 'items')).toEqual(['(7,1,"new on main")']);
  });

  it('a value the target added under a unique constraint other than the key is a conflict, not a raw error; nothing is applied', async () => {
    const ayb = await scenario('a_unique', `CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE); INSERT INTO users VALUES (1, 'a@x');`);
    await ayb.branch('un');
    await psql('ayb_branch_un', `INSERT INTO users VALUES (10, 'b@x');`);
    await psql('a_unique', `INSERT INTO users VALUES (11, 'b@x');`);
    const before = await fingerprint(cluster, 'a_unique');
    const refused = await ayb('branch', 'merge', 'un', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.json().error).toMatchObject({ code: 'merge_constraint_conflict', constraint: 'users_email_key' });
    expect(await fingerprint(cluster, 'a_unique')).toEqual(before);
  });

  it('triggers: BEFORE triggers that change the row and AFTER triggers that write other tables do not fire again on the target', async () => {
    const ayb = await scenario('a_trig', `
      CREATE TABLE items (id int PRIMARY KEY, qty int, touched int NOT NULL DEFAULT 0);
      CREATE TABLE audit (item int, op text, qty int, PRIMARY KEY (item, op, qty));
      CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := OLD.touched + 1; RETURN NEW; END $$;
      CREATE FUNCTION log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (NEW.id, TG_OP, NEW.qty); RETURN NULL; END $$;
      CREATE TRIGGER a_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
      CREATE TRIGGER b_log AFTER INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION log();
      INSERT INTO items VALUES (1, 1, 0), (2, 2, 0);
      TRUNCATE audit;
    `);
    await ayb.branch('tr');
    await psql('ayb_branch_tr', `UPDATE items SET qty = 10 WHERE id = 1; INSERT INTO items VALUES (3, 3, 0);`);
    await psql('a_trig', `UPDATE items SET qty = 20 WHERE id = 2;`);
    const merged = await ayb('branch', 'merge', 'tr');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // Hand-computed: the branch's rows as the branch's triggers made them, main's as main's did.
    expect(await rows('a_trig', 'items')).toEqual(['(1,10,1)', '(2,20,1)', '(3,3,0)']);
    expect(await rows('a_trig', 'audit')).toEqual(['(1,UPDATE,10)', '(2,UPDATE,20)', '(3,INSERT,3)']);
    // The triggers are on again.
    await psql('a_trig', `UPDATE items SET qty = 0 WHERE id = 3;`);
    expect(await rows('a_trig', 'items')).toContain('(3,0,1)');
  });

  it('odd values (NaN, -0, infinity, arrays, jsonb, bytea, domains, enums, composite text keys) merge exactly', async () => {
    const ayb = await scenario('a_odd', `
      CREATE DOMAIN pos AS int CHECK (VALUE > 0);
      CREATE TYPE col AS ENUM ('red', 'green');
      CREATE TABLE odd (k1 text, k2 text, n numeric, f float8, ts timestamptz, a int[], j jsonb, b bytea, p pos, c col, PRIMARY KEY (k1, k2));
      INSERT INTO odd VALUES ('a', 'x y', 1, 1, '2020-01-01', '{1,2}', '{"a":1}', '\\x00', 1, 'red'),
                             (E'q\\'"', '', 2, 2, '2020-01-02', '{}', '[]', '\\x', 2, 'green');
    `);
    await ayb.branch('od');
    await psql('ayb_branch_od', `
      UPDATE odd SET n = 'NaN', f = '-0', ts = 'infinity', a = '{NULL,3}', j = '{"b": [null, "\\u00e9"]}', b = '\\xdeadbeef', c = 'green' WHERE k1 = 'a';
      INSERT INTO odd VALUES ('z', 'NULL', '-Infinity', 'NaN', '-infinity', '{{1,2},{3,4}}', 'null', NULL, 9, NULL);
    `);
    await psql('a_odd', `UPDATE odd SET p = 7 WHERE k1 = 'a';`);
    const merged = await ayb('branch', 'merge', 'od');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('a_odd', 'odd')).toEqual([
      '("q\'""","",2,2,"2020-01-02 00:00:00+00",{},[],"\\\\x",2,green)',
      '(a,"x y",NaN,-0,infinity,"{NULL,3}","{""b"": [null, ""é""]}","\\\\xdeadbeef",7,green)',
      '(z,NULL,-Infinity,NaN,-infinity,"{{1,2},{3,4}}",null,,9,)',
    ]);
  });

  it('a target whose database settings (DateStyle, TimeZone, IntervalStyle, bytea_output) differ from the base\'s and the branch\'s merges without false conflicts', async () => {
    const ayb = await scenario('a_settings', `
      CREATE TABLE ev (id int PRIMARY KEY, d date, at timestamptz, span interval, b bytea, qty int);
      INSERT INTO ev VALUES (1, '2024-01-02', '2024-01-02 03:04:05+00', '1 day 2 hours', '\\x01', 1), (2, '2024-03-04', '2024-03-04 00:00:00+00', '3 mons', '\\x02', 2);
    `);
    await ayb.branch('st');
    await cluster.query(`ALTER DATABASE a_settings SET DateStyle = 'SQL, DMY'; ALTER DATABASE a_settings SET TimeZone = 'Asia/Kolkata'; ALTER DATABASE a_settings SET IntervalStyle = 'sql_standard'; ALTER DATABASE a_settings SET bytea_output = 'escape'`);
    await psql('ayb_branch_st', `UPDATE ev SET qty = 10, d = '2025-05-06' WHERE id = 1; UPDATE ev SET span = '5 days', at = '2030-01-01 00:00:00+00' WHERE id = 2;`);
    await psql('a_settings', `UPDATE ev SET qty = 20 WHERE id = 2;`);
    const merged = await ayb('branch', 'merge', 'st', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(merged.json().conflicts).toEqual([]);
    const text = (await cluster.query<{ t: string }>(
      `SELECT string_agg(format('%s|%s|%s|%s|%s|%s', id, to_char(d, 'YYYY-MM-DD'), to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), extract(epoch FROM span)::int, encode(b, 'hex'), qty), ';' ORDER BY id) AS t FROM ev`, [], 'a_settings')).rows[0]!.t;
    expect(text).toBe('1|2025-05-06|2024-01-02 03:04:05|93600|01|10;2|2024-03-04|2030-01-01 00:00:00|432000|02|20');
  });

  it('ON UPDATE CASCADE: a key the branch changed follows into the children the target added, as a conflict, never a raw error', async () => {
    const ayb = await scenario('a_updcascade', `
      CREATE TABLE teams (code text PRIMARY KEY, name text);
      CREATE TABLE members (id int PRIMARY KEY, team text REFERENCES teams ON UPDATE CASCADE);
      INSERT INTO teams VALUES ('A', 'alpha'), ('B', 'beta'); INSERT INTO members VALUES (1, 'A');
    `);
    await ayb.branch('uc');
    await psql('ayb_branch_uc', `UPDATE teams SET code = 'AA' WHERE code = 'A'; UPDATE teams SET name = 'b2' WHERE code = 'B';`);
    await psql('a_updcascade', `INSERT INTO members VALUES (2, 'A');`);
    const before = await fingerprint(cluster, 'a_updcascade');
    const refused = await ayb('branch', 'merge', 'uc', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.json().error.code).toBe('merge_conflict');
    expect(await fingerprint(cluster, 'a_updcascade')).toEqual(before);
  });
  it('a partitioned table (rows moving between partitions), generated and identity columns merge exactly', async () => {
    const ayb = await scenario('a_parts', `
      CREATE TABLE m (id int GENERATED ALWAYS AS IDENTITY, region text, qty int, double int GENERATED ALWAYS AS (qty * 2) STORED, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
      CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu');
      CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us');
      INSERT INTO m (region, qty) VALUES ('eu', 1), ('eu', 2), ('us', 3);
    `);
    await ayb.branch('pa');
    await psql('ayb_branch_pa', `UPDATE m SET region = 'us' WHERE id = 1; UPDATE m SET qty = 20 WHERE id = 2; INSERT INTO m (region, qty) VALUES ('eu', 4);`);
    await psql('a_parts', `UPDATE m SET qty = 30 WHERE id = 3;`);
    const merged = await ayb('branch', 'merge', 'pa', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('a_parts', 'm')).toEqual(['(1,us,1,2)', '(2,eu,20,40)', '(3,us,30,60)', '(4,eu,4,8)']);
    expect(await rows('a_parts', 'm_eu')).toEqual(['(2,eu,20,40)', '(4,eu,4,8)']);
    // The identity moved forward with the branch's insert: the next row does not collide.
    await psql('a_parts', `INSERT INTO m (region, qty) VALUES ('eu', 5);`);
    expect(await rows('a_parts', 'm_eu')).toContain('(5,eu,5,10)');
  });

  it('a delete that cascades two levels down, where the merge itself sets the reference NULL as the branch did, is no conflict', async () => {
    const ayb = await scenario('a_chain', `
      CREATE TABLE orders (id int PRIMARY KEY);
      CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE);
      CREATE TABLE notes (id int PRIMARY KEY, item_id int REFERENCES items ON DELETE SET NULL, body text);
      INSERT INTO orders VALUES (1), (2); INSERT INTO items VALUES (10, 1), (20, 2); INSERT INTO notes VALUES (100, 10, 'n'), (200, 20, 'm');
    `);
    await ayb.branch('ch');
    await psql('ayb_branch_ch', `DELETE FROM orders WHERE id = 1;`);
    // main edits the note's body: the branch set its item_id NULL (by the cascade), a different column.
    await psql('a_chain', `UPDATE notes SET body = 'edited on main' WHERE id = 100;`);
    const merged = await ayb('branch', 'merge', 'ch', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('a_chain', 'orders')).toEqual(['(2)']);
    expect(await rows('a_chain', 'items')).toEqual(['(20,2)']);
    expect(await rows('a_chain', 'notes')).toEqual(['(100,,"edited on main")', '(200,20,m)']);
  });
  it('a child row the target commits between the plan and the apply is not lost to the cascade of a planned delete', async () => {
    const ayb = await scenario('a_race', `
      CREATE TYPE mood AS ENUM ('ok');
      CREATE TABLE orders (id int PRIMARY KEY, m mood);
      CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE);
      INSERT INTO orders VALUES (1, 'ok'), (2, 'ok'); INSERT INTO items VALUES (10, 2);
    `);
    await ayb.branch('ra');
    // The branch's new enum value is added on the target first, in a transaction of its own: the
    // holder's lock on the type keeps the merge waiting there, after its plan and before its apply.
    await psql('ayb_branch_ra', `ALTER TYPE mood ADD VALUE 'new';`);
    await psql('ayb_branch_ra', `DELETE FROM orders WHERE id = 1; UPDATE orders SET m = 'new' WHERE id = 2;`);
    const holder = new pg.Client({ connectionString: cluster.url('a_race') });
    await holder.connect();
    let merging: ReturnType<typeof ayb> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query(`COMMENT ON TYPE mood IS 'held'`);
      merging = ayb('branch', 'merge', 'ra', '--lock-timeout', '60s', '--json');
      await waitUntil('the merge waits for the type lock', async () =>
        (await cluster.query(`SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = 'a_race' AND NOT l.granted`)).rowCount || undefined, 60_000);
      // main adds an item to order 1, committed before the merge's apply transaction starts.
      await cluster.query(`INSERT INTO items VALUES (11, 1)`, [], 'a_race');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const merged = await merging!;
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(merged.json().error.code).toBe('merge_target_moved');
    expect(await rows('a_race', 'orders')).toEqual(['(1,ok)', '(2,ok)']);
    expect(await rows('a_race', 'items')).toEqual(['(10,2)', '(11,1)']);
  });
});
