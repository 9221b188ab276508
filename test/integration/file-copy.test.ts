import { mkdtemp, rm } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canCloneFiles, decideFileCopyMethod, managedDataDirectory } from '../../src/clone/file-copy.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { connect, type Client } from '../../src/postgres/client.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/** Which file copy method a template copy uses, decided against a real (PostgreSQL 15) cluster. */
describe('file copy method', () => {
  let cluster: TestCluster;
  let maint: Client;
  const config = (method: 'auto' | 'copy' | 'clone') => ConfigSchema.parse({ branching: { file_copy_method: method } });

  beforeAll(async () => {
    cluster = await startTestCluster();
    maint = await connect({ ...cluster.conn, database: 'postgres' });
  });
  afterAll(async () => {
    await maint?.end();
    await cluster?.stop();
  });

  it('recognises ayb’s managed cluster by its data directory, and nothing else', async () => {
    expect(realpathSync(String(await managedDataDirectory(maint, cluster.conn)))).toBe(realpathSync(cluster.dataDir));
    // Another port on the same host is another server.
    expect(await managedDataDirectory(maint, { ...cluster.conn, port: cluster.conn.port + 1 })).toBeUndefined();
    expect(await managedDataDirectory(maint, { ...cluster.conn, host: 'db.example.com' })).toBeUndefined();
  });

  it('copies on servers older than 18 whatever the config says, and when told to copy', async () => {
    for (const method of ['auto', 'copy', 'clone'] as const) {
      expect((await decideFileCopyMethod(maint, cluster.conn, config(method), 15)).method).toBe('copy');
    }
    expect(await decideFileCopyMethod(maint, cluster.conn, config('clone'), 15)).toMatchObject({ reason: expect.stringMatching(/needs 18/) });
  });

  it('on 18+, clones when told to, and with auto only where the probe says the managed data directory can', async () => {
    expect((await decideFileCopyMethod(maint, cluster.conn, config('clone'), 18)).method).toBe('clone');
    expect((await decideFileCopyMethod(maint, cluster.conn, config('copy'), 18)).method).toBe('copy');
    const auto = await decideFileCopyMethod(maint, cluster.conn, config('auto'), 18);
    expect(auto.method).toBe((await canCloneFiles(cluster.dataDir)) ? 'clone' : 'copy');
    // Not the managed cluster: ayb does not guess.
    const other = await decideFileCopyMethod(maint, { ...cluster.conn, host: 'db.example.com' }, config('auto'), 18);
    expect(other).toMatchObject({ method: 'copy', reason: expect.stringMatching(/not the managed cluster/) });
  });

  it('the reflink probe leaves nothing behind and says no where it cannot write', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-probe-'));
    try {
      await canCloneFiles(dir);
      const { readdir } = await import('node:fs/promises');
      expect(await readdir(dir)).toEqual([]);
      expect(await canCloneFiles(path.join(dir, 'missing'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
