import pg from 'pg';
import { diffSnapshots, type SchemaChange } from '../../src/schema/diff.js';
import type { SchemaSnapshot } from '../../src/schema/model.js';
import { type SnapshotOptions, snapshotSchema } from '../../src/schema/snapshot.js';
import { planMigration, renderMigration } from '../../src/schema/sql.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { COPY_FILES, type TestCluster } from './cluster.js';
import { runPsql } from './pagila.js';

/** Runs SQL (several statements allowed, no COPY) on a database of the cluster with its own connection. */
export async function execSql(cluster: TestCluster, database: string, sql: string): Promise<void> {
  const client = new pg.Client({ ...cluster.conn, database });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function snapshotDatabase(cluster: TestCluster, database: string, options: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  const client = new pg.Client({ ...cluster.conn, database });
  await client.connect();
  try {
    return await snapshotSchema(client, options);
  } finally {
    await client.end();
  }
}

/**
 * Snapshots already read, by database (and options): the way back of a round trip reads the same two
 * databases as the way forth, unchanged meanwhile (the migration runs in a copy). A caller passes
 * one cache to both directions, and only while neither database changes.
 */
export type SnapshotCache = Map<string, Promise<SchemaSnapshot>>;

export async function snapshotOnce(cluster: TestCluster, database: string, options: SnapshotOptions = {}, cache?: SnapshotCache): Promise<SchemaSnapshot> {
  if (!cache) return snapshotDatabase(cluster, database, options);
  const key = `${database}\n${JSON.stringify(options)}`;
  let snapshot = cache.get(key);
  if (!snapshot) {
    snapshot = snapshotDatabase(cluster, database, options);
    cache.set(key, snapshot);
  }
  // A copy each time: what reads a snapshot may not change the one the other direction reads.
  return structuredClone(await snapshot);
}

/** CREATE DATABASE target TEMPLATE source (no session may be connected to source). */
export async function cloneDatabase(cluster: TestCluster, source: string, target: string): Promise<void> {
  await cluster.query(`DROP DATABASE IF EXISTS ${quoteIdent(target)} WITH (FORCE)`, [], 'postgres');
  await cluster.query(`CREATE DATABASE ${quoteIdent(target)} TEMPLATE ${quoteIdent(source)} ${COPY_FILES}`, [], 'postgres');
}

export interface RoundTrip {
  /** Changes from a to b. */
  readonly changes: SchemaChange[];
  /** The migration script from a to b. */
  readonly sql: string;
  /** Changes left between (a + migration) and b: must be empty. */
  readonly residue: SchemaChange[];
}

/**
 * Diffs database `a` against `b`, applies the migration with psql (stopping at the first error)
 * to a fresh template copy of `a`, and diffs that copy against `b` again. With a cache, the
 * snapshots of `a` and `b` are taken from it (see SnapshotCache).
 */
export async function roundTrip(cluster: TestCluster, a: string, b: string, cache?: SnapshotCache): Promise<RoundTrip> {
  const [before, after] = await Promise.all([snapshotOnce(cluster, a, {}, cache), snapshotOnce(cluster, b, {}, cache)]);
  const changes = diffSnapshots(before, after);
  const sql = renderMigration(planMigration(before, after));
  const copy = `${a}_applied`;
  await cloneDatabase(cluster, a, copy);
  try {
    await runPsql(cluster, copy, { sql });
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- migration ---\n${sql}`, { cause: error });
  }
  const residue = diffSnapshots(await snapshotDatabase(cluster, copy), after);
  await cluster.query(`DROP DATABASE ${quoteIdent(copy)} WITH (FORCE)`, [], 'postgres');
  return { changes, sql, residue };
}
