import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withClient } from '../../src/postgres/client.js';
import { type ConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { destroyManagedCluster, ensureManagedCluster } from '../../src/postgres/managed/index.js';
import { freePort } from '../../src/postgres/ports.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { buildDataset } from './dataset.js';

/** A throwaway managed cluster of a benchmark script, in a folder of its own under the temp dir. */
export interface BenchCluster {
  /** The folder that holds the data directory (and whatever else the script puts there). */
  readonly root: string;
  readonly dataDir: string;
  readonly port: number;
  /** The cluster's main database (`ayb`), as the superuser. */
  readonly conn: ConnInfo;
}

/**
 * Runs `fn` on a fresh managed cluster in `<tmp>/<prefix>XXXXXX/data`, stopped and deleted
 * afterwards whatever happens. The one way the scripts besides run.ts (which keeps its own
 * cleanup stack for Ctrl-C and the PostgreSQL 18 part) make theirs.
 */
export async function withBenchCluster<T>(prefix: string, log: (line: string) => void, fn: (cluster: BenchCluster) => Promise<T>): Promise<T> {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  try {
    const port = await freePort();
    const cluster = await ensureManagedCluster({ dataDir, port, log });
    return await fn({ root, dataDir, port, conn: cluster.conn });
  } finally {
    await destroyManagedCluster({ dataDir }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

/** Creates database `name` on the cluster and builds the shop dataset (dataset.ts) of `sizeMb` in it; returns its size in bytes. */
export async function createDatasetDatabase(cluster: BenchCluster, name: string, sizeMb: number, log: (line: string) => void): Promise<{ conn: ConnInfo; bytes: number }> {
  const conn = withDatabase(cluster.conn, name);
  await withClient(withDatabase(cluster.conn, 'postgres'), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  log(`Building a ${sizeMb} MB dataset in database "${name}" …`);
  const bytes = await withClient(conn, (c) => buildDataset(c, sizeMb, log));
  return { conn, bytes };
}

/** This process's environment without AYB_* and PG* (so neither a developer's shell nor a CI job steers the ayb under test), `extra` added. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('AYB_') || key.startsWith('PG')) delete env[key];
  return { ...env, ...extra };
}
