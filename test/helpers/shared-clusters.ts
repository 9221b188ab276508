import { mkdir, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { destroyManagedCluster } from '../../src/postgres/managed/index.js';
import { cleanAbandonedRuns, makeRunFolder, removeRunFolder, runFolderParent } from './test-runs.js';

/**
 * vitest global setup. First it removes what runs killed before their teardown left behind (their
 * run folders, with the clusters still running there: see test-runs.ts). Then it makes this run's
 * folder (in memory when it can: runFolderParent in test-runs.ts), which becomes the TMPDIR of the
 * test workers (and of the processes they start), so every private cluster, home folder and copy
 * of the run lies inside it; and a folder there for the run's
 * shared clusters (see startTestCluster in cluster.ts). Each worker slot's first test file
 * initialises its cluster there, so a run of unit tests alone starts none. The teardown stops the
 * shared clusters, then any other postmaster a test left running in the folder, and removes it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tmp = os.tmpdir();
  const parent = await runFolderParent(tmp);
  for (const folder of new Set([tmp, parent])) await cleanAbandonedRuns(folder, (line) => console.warn(`ayb tests: ${line}`));
  const runDir = await makeRunFolder(parent);
  const root = path.join(runDir, 'shared');
  // As root, the cluster runs as another OS user that must pass through this folder.
  await mkdir(root, { mode: 0o755 });
  project.provide('aybSharedClusterRoot', root);
  const previousTmpdir = process.env.TMPDIR;
  // Read by vitest when it starts the workers, after this setup.
  process.env.TMPDIR = runDir;
  return async () => {
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
    const slots = (await readdir(root)).filter((entry) => entry.startsWith('pool-'));
    await Promise.all(slots.map((slot) => destroyManagedCluster({ dataDir: path.join(root, slot, 'data') })));
    const leftOver = await removeRunFolder(runDir);
    if (leftOver.length > 0) console.warn(`ayb tests: stopped postmasters ${leftOver.join(', ')} that tests left running in ${runDir}`);
  };
}
