import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureControlTable } from '../../src/branching/control-table.js';
import { diffSnapshots } from '../../src/schema/diff.js';
import type { ObjectKind } from '../../src/schema/model.js';
import { planMigration, renderMigration } from '../../src/schema/sql.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { libpqEnv, loadPagila } from '../helpers/pagila.js';
import { cloneDatabase, execSql, roundTrip, snapshotDatabase } from '../helpers/schema-diff.js';

/** Copies a database the way the dump strategy does: pg_dump piped into psql, stopping at the first error. */
async function dumpClone(cluster: TestCluster, source: string, target: string): Promise<void> {
  await cluster.createDatabase(target);
  await execa('pg_dump', ['--no-password'], { env: libpqEnv(cluster, source) }).pipe('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1'], {
    env: libpqEnv(cluster, target),
  });
}

/** The current body of a view, to recreate it unchanged around a column change. */
async function viewDefinition(cluster: TestCluster, database: string, view: string): Promise<string> {
  const { rows } = await cluster.query<{ def: string }>('SELECT pg_get_viewdef($1::regclass) AS def', [view], database);
  return rows[0]!.def;
}

describe('branch diff on Pagila', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await loadPagila(cluster, 'pagila');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('sees every kind of object Pagila has, non-ASCII names included', async () => {
    const snapshot = await snapshotDatabase(cluster, 'pagila');
    const count = (kind: ObjectKind) => [...snapshot.objects.values()].filter((o) => o.kind === kind).length;
    expect({
      tables: count('table'),
      views: count('view'),
      materialized_views: count('materialized_view'),
      functions: count('function'),
      aggregates: count('aggregate'),
      triggers: count('trigger'),
      enums: count('enum'),
      domains: count('domain'),
      sequences: count('sequence'),
    }).toEqual({ tables: 22, views: 7, materialized_views: 1, functions: 9, aggregates: 1, triggers: 15, enums: 1, domains: 2, sequences: 13 });
    expect(count('constraint')).toBeGreaterThan(40);
    expect(count('index')).toBeGreaterThan(30);
    expect([...snapshot.objects.values()].some((o) => o.kind === 'domain' && o.name === 'bıgınt')).toBe(true);
  });

  it('shows no difference against a template copy', async () => {
    await cloneDatabase(cluster, 'pagila', 'pagila_template_copy');
    const [a, b] = [await snapshotDatabase(cluster, 'pagila'), await snapshotDatabase(cluster, 'pagila_template_copy')];
    expect(diffSnapshots(a, b)).toEqual([]);
    expect(renderMigration(planMigration(a, b))).toBe('-- No schema differences.\n');
  });

  it('shows no difference against a pg_dump | psql copy, either way', async () => {
    await dumpClone(cluster, 'pagila', 'pagila_dump_copy');
    const [a, b] = [await snapshotDatabase(cluster, 'pagila'), await snapshotDatabase(cluster, 'pagila_dump_copy')];
    expect(diffSnapshots(a, b)).toEqual([]);
    expect(diffSnapshots(b, a)).toEqual([]);
    expect(planMigration(a, b)).toEqual([]);
  });

  it('ignores the control table, whatever it holds', async () => {
    await cloneDatabase(cluster, 'pagila', 'pagila_with_control');
    const client = new pg.Client({ ...cluster.conn, database: 'pagila_with_control' });
    await client.connect();
    try {
      await ensureControlTable(client);
    } finally {
      await client.end();
    }
    const [a, b] = [await snapshotDatabase(cluster, 'pagila'), await snapshotDatabase(cluster, 'pagila_with_control')];
    expect(diffSnapshots(a, b)).toEqual([]);
    expect(diffSnapshots(b, a)).toEqual([]);
  });

  it('migration 1: a new rating, a column with a partial unique index, a check and a default', async () => {
    await cloneDatabase(cluster, 'pagila', 'm1_a');
    await cloneDatabase(cluster, 'pagila', 'm1_b');
    await execSql(
      cluster,
      'm1_b',
      `ALTER TYPE mpaa_rating ADD VALUE 'NR' BEFORE 'G';
       ALTER TABLE film ADD COLUMN imdb_id text;
       CREATE UNIQUE INDEX film_imdb_id_idx ON film (imdb_id) WHERE imdb_id IS NOT NULL;
       ALTER TABLE film ADD CONSTRAINT film_length_check CHECK (length > 0);
       ALTER TABLE film ALTER COLUMN rental_rate SET DEFAULT 3.99`,
    );
    const result = await roundTrip(cluster, 'm1_a', 'm1_b');
    expect(result.changes.map((c) => `${c.kind} ${c.table ?? ''} ${c.name} ${c.action}`)).toEqual([
      'enum  mpaa_rating changed',
      'column film imdb_id added',
      'column film rental_rate changed',
      'constraint film film_length_check added',
      'index film film_imdb_id_idx added',
    ]);
    expect(result.residue).toEqual([]);
    expect((await roundTrip(cluster, 'm1_b', 'm1_a')).residue).toEqual([]);
  });

  it('migration 2: a column retyped under two views, a foreign key made cascading, RLS and a new trigger body', async () => {
    await cloneDatabase(cluster, 'pagila', 'm2_a');
    await cloneDatabase(cluster, 'pagila', 'm2_b');
    const customerList = await viewDefinition(cluster, 'm2_b', 'customer_list');
    const staffList = await viewDefinition(cluster, 'm2_b', 'staff_list');
    await execSql(
      cluster,
      'm2_b',
      `DROP VIEW customer_list; DROP VIEW staff_list;
       ALTER TABLE address ALTER COLUMN phone TYPE varchar(32);
       CREATE VIEW customer_list AS ${customerList}
       CREATE VIEW staff_list AS ${staffList}
       ALTER TABLE rental DROP CONSTRAINT rental_inventory_id_fkey;
       ALTER TABLE rental ADD CONSTRAINT rental_inventory_id_fkey FOREIGN KEY (inventory_id) REFERENCES inventory (inventory_id) ON UPDATE CASCADE ON DELETE CASCADE;
       ALTER TABLE customer ENABLE ROW LEVEL SECURITY;
       CREATE POLICY customer_store ON customer FOR SELECT USING (store_id = current_setting('app.store_id', true)::int);
       CREATE OR REPLACE FUNCTION last_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.last_update = clock_timestamp(); RETURN NEW; END $$`,
    );
    const result = await roundTrip(cluster, 'm2_a', 'm2_b');
    expect(result.changes.find((c) => c.name === 'phone')).toMatchObject({ action: 'changed', destructive: true, detail: 'type: text → character varying(32)' });
    // The views are unchanged: they are not listed, but the migration rebuilds them around the retype.
    expect(result.changes.some((c) => c.kind === 'view')).toBe(false);
    expect(result.sql).toContain('-- dropped and recreated below: depends on column public.address.phone\nDROP VIEW "public"."customer_list";');
    expect(result.residue).toEqual([]);
    expect((await roundTrip(cluster, 'm2_b', 'm2_a')).residue).toEqual([]);
  });

  it('migration 3: a materialized view replaced, a column dropped, a new schema and table, a trigger', async () => {
    await cloneDatabase(cluster, 'pagila', 'm3_a');
    await cloneDatabase(cluster, 'pagila', 'm3_b');
    await execSql(
      cluster,
      'm3_b',
      `DROP MATERIALIZED VIEW rental_by_category;
       CREATE MATERIALIZED VIEW rental_by_category AS
         SELECT c.name AS category, count(*) AS rentals FROM rental r
         JOIN inventory i ON r.inventory_id = i.inventory_id
         JOIN film_category fc ON i.film_id = fc.film_id
         JOIN category c ON fc.category_id = c.category_id GROUP BY c.name;
       CREATE UNIQUE INDEX rental_category ON rental_by_category (category);
       ALTER TABLE store DROP COLUMN last_update;
       DROP TRIGGER last_updated ON store;
       CREATE SCHEMA loyalty;
       CREATE TABLE loyalty.member (
         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         customer_id integer NOT NULL REFERENCES public.customer (customer_id) ON DELETE CASCADE,
         points integer NOT NULL DEFAULT 0 CHECK (points >= 0),
         tier text GENERATED ALWAYS AS (CASE WHEN points > 1000 THEN 'gold' ELSE 'basic' END) STORED,
         last_update timestamptz NOT NULL DEFAULT now()
       );
       CREATE TRIGGER last_updated BEFORE UPDATE ON loyalty.member FOR EACH ROW EXECUTE FUNCTION public.last_updated();
       CREATE VIEW loyalty.gold AS SELECT m.id, c.email FROM loyalty.member m JOIN public.customer c USING (customer_id) WHERE m.tier = 'gold'`,
    );
    const result = await roundTrip(cluster, 'm3_a', 'm3_b');
    expect(result.changes.find((c) => c.name === 'last_update' && c.table === 'store')).toMatchObject({ action: 'removed', destructive: true });
    expect(result.residue).toEqual([]);
    expect((await roundTrip(cluster, 'm3_b', 'm3_a')).residue).toEqual([]);
  });
});
