import { withClient } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { diffSnapshots, type SchemaChange } from './diff.js';
import type { SchemaSnapshot } from './model.js';
import { type SnapshotOptions, snapshotSchema } from './snapshot.js';
import { type MigrationStatement, planMigration } from './sql.js';

export interface SchemaComparison {
  readonly before: SchemaSnapshot;
  readonly after: SchemaSnapshot;
  /** What differs, `a` → `b`; empty when the schemas are the same. */
  readonly changes: SchemaChange[];
  /** The statements that turn `a` into `b` (computed on first use). */
  migration(): MigrationStatement[];
}

/**
 * Snapshots the schemas of two databases side by side (one connection each, each in a read-only
 * repeatable-read transaction) and diffs them. The databases may be on different servers.
 */
export async function compareSchemas(a: ConnInfo, b: ConnInfo, options: SnapshotOptions = {}): Promise<SchemaComparison> {
  const snapshot = (client: Parameters<typeof snapshotSchema>[0]) => snapshotSchema(client, options);
  const [before, after] = await Promise.all([withClient(a, snapshot), withClient(b, snapshot)]);
  let plan: MigrationStatement[] | undefined;
  return {
    before,
    after,
    changes: diffSnapshots(before, after),
    migration: () => (plan ??= planMigration(before, after)),
  };
}
