import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { loadPagila, runPsql } from '../helpers/pagila.js';
import { type Direction, failure, judge } from '../helpers/schema-corpus.js';
import { snapshotDatabase } from '../helpers/schema-diff.js';

/**
 * Real-size schemas from an empty database (issue 29, class 5): the migration from an empty
 * database to the schema must apply in one pass and converge (ayb's diff empty, sorted
 * `pg_dump --schema-only` equal), and so must the way back (the schema dropped whole).
 *
 * The corpus: Pagila (PostgreSQL licence) and application schemas written for it under
 * test/fixtures/schemas/ (hundreds of objects each: tables, partitions, functions, triggers,
 * policies, views).
 */

const SCHEMAS = new URL('../fixtures/schemas/', import.meta.url);

interface Source {
  readonly name: string;
  load(cluster: TestCluster, database: string): Promise<void>;
  /** The least number of objects ayb must see in it: a guard against a fixture that failed to load half-way. */
  readonly minObjects: number;
}

const fixture = (file: string, minObjects: number): Source => ({
  name: file,
  minObjects,
  async load(cluster, database) {
    await cluster.createDatabase(database);
    await runPsql(cluster, database, { file: fileURLToPath(new URL(file, SCHEMAS)) });
  },
});

const SOURCES: Source[] = [
  { name: 'pagila', minObjects: 240, load: (cluster, database) => loadPagila(cluster, database, { data: false }) },
  fixture('saas.sql', 400),
  fixture('commerce.sql', 300),
];

describe('branch diff from an empty database: real-size schemas apply and converge in one pass', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('empty');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  // Each application schema, then its next release (`*-v2.sql` applied on top): v1 → v2 and back.
  for (const name of ['saas', 'commerce']) {
    it(`${name}.sql → its next release (${name}-v2.sql on top) and back`, async () => {
      await fixture(`${name}.sql`, 300).load(cluster, `${name}_v1`);
      await cluster.query(`DROP DATABASE IF EXISTS ${name}_v2 WITH (FORCE)`, [], 'postgres');
      await cluster.query(`CREATE DATABASE ${name}_v2 TEMPLATE ${name}_v1`, [], 'postgres');
      await runPsql(cluster, `${name}_v2`, { file: fileURLToPath(new URL(`${name}-v2.sql`, SCHEMAS)) });
      const directions: Direction[] = [await judge(cluster, `${name}_v1`, `${name}_v2`), await judge(cluster, `${name}_v2`, `${name}_v1`)];
      expect(directions[0]!.changes.length).toBeGreaterThan(0);
      expect(directions.map(failure).filter((x) => x !== undefined)).toEqual([]);
    }, 300_000);
  }

  for (const source of SOURCES) {
    it(`${source.name}: empty → schema and back`, async () => {
      const database = `full_${source.name.replace(/\W.*$/, '')}`;
      await source.load(cluster, database);
      const snapshot = await snapshotDatabase(cluster, database);
      expect(snapshot.objects.size).toBeGreaterThanOrEqual(source.minObjects);
      const directions: Direction[] = [await judge(cluster, 'empty', database), await judge(cluster, database, 'empty')];
      expect(directions[0]!.changes.length).toBeGreaterThan(0);
      expect(directions.map(failure).filter((x) => x !== undefined)).toEqual([]);
    }, 300_000);
  }
});
