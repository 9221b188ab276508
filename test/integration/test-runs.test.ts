import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureManagedCluster } from '../../src/postgres/managed/index.js';
import { freePort } from '../helpers/cluster.js';
import { cleanAbandonedRuns, makeRunFolder } from '../helpers/test-runs.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The state letter of a process as `ps` reports it; '' when there is no such process. */
async function psState(pid: number): Promise<string> {
  return (await execa('ps', ['-o', 'stat=', '-p', String(pid)], { reject: false })).stdout.trim();
}

async function isMountPoint(dir: string): Promise<boolean> {
  return (await execa('mountpoint', ['-q', dir], { reject: false })).exitCode === 0;
}

/**
 * What a `npm test` killed with SIGKILL leaves (its run folder, a cluster still running in it, a
 * file system mounted there) and what the next run's global setup does with it.
 */
describe('runs killed before their teardown', () => {
  let parent: string;
  beforeAll(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'ayb-runs-'));
  });
  afterAll(async () => {
    if (parent) await rm(parent, { recursive: true, force: true });
  });

  it('the next run stops the clusters of a run whose process is gone and removes its folder; a live run is left alone', async () => {
    const gone = spawnSync('true').pid; // a process that has ended
    const dead = await makeRunFolder(parent, gone);
    const live = await makeRunFolder(parent);
    const dataDir = path.join(dead, 'ayb-test-x', 'data');
    const cluster = await ensureManagedCluster({ dataDir, port: await freePort() });
    const postmaster = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(await psState(postmaster)).toMatch(/^S|^R/);
    let mounted: string | undefined;
    if (isRoot) {
      mounted = path.join(dead, 'ayb-bench-xfs-x', 'mnt');
      await mkdir(mounted, { recursive: true });
      await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mounted]);
      expect(await isMountPoint(mounted)).toBe(true);
    }

    const removed = await cleanAbandonedRuns(parent);

    expect(removed).toEqual([dead]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(path.join(live, 'owner.json'))).toBe(true);
    expect(await psState(postmaster)).toMatch(/^$|^Z/); // gone, or a zombie waiting for init to reap it
    const client = new pg.Client({ ...cluster.conn, connectionTimeoutMillis: 5_000 });
    await expect(client.connect()).rejects.toThrow(/ECONNREFUSED/);
    if (mounted) {
      const mounts = await readFile('/proc/self/mounts', 'utf8');
      expect(mounts).not.toContain(mounted);
    }
  });

  it("puts this run's temporary files in its run folder (TMPDIR of the workers), owned by the vitest process", async () => {
    const runDir = os.tmpdir();
    expect(path.basename(runDir)).toMatch(/^ayb-test-run-/);
    const owner = JSON.parse(await readFile(path.join(runDir, 'owner.json'), 'utf8')) as { pid: number };
    expect(owner.pid).toBe(process.ppid); // the fork's parent: vitest
  });

  it('leaves folders without an owner (a run being set up, or not a run) alone', async () => {
    const other = path.join(parent, 'ayb-test-run-foreign');
    await mkdir(other);
    expect(await cleanAbandonedRuns(parent)).toEqual([]);
    expect(existsSync(other)).toBe(true);
  });
});
