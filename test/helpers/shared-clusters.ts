import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { destroyManagedCluster } from '../../src/postgres/managed.js';

/**
 * vitest global setup: a folder for the run's shared clusters (see startTestCluster in cluster.ts).
 * Each worker slot's first test file initialises its cluster there, so a run of unit tests alone
 * starts none; the teardown stops and removes every one of them.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ayb-test-shared-'));
  // As root, the cluster runs as another OS user that must pass through this folder.
  await chmod(root, 0o755);
  project.provide('aybSharedClusterRoot', root);
  return async () => {
    const slots = (await readdir(root)).filter((entry) => entry.startsWith('pool-'));
    await Promise.all(slots.map((slot) => destroyManagedCluster({ dataDir: path.join(root, slot, 'data') })));
    await rm(root, { recursive: true, force: true });
  };
}
