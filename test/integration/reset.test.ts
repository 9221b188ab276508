import { access, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTool } from '../../src/postgres/tools.js';
import { databaseExists, holdBranchLock } from '../helpers/branch-lock.js';
import { waitUntil } from '../helpers/gate.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { allowsConnections, killWhileRefusing } from '../helpers/refusal.js';

/**
 * A pg_bin_dir whose pg_dump is the real one and whose psql misbehaves: `fail` restores the first
 * 2 kB of the dump for real and then fails; `hang` touches `marker` and waits (for the Ctrl-C test).
 */
async function brokenPsql(kind: 'fail' | 'hang'): Promise<{ config: string; marker: string; remove(): Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ayb-reset-tools-'));
  const bin = path.join(root, 'bin');
  const marker = path.join(root, 'psql-started');
  await mkdir(bin);
  const realDump = (await findTool('pg_dump', 15)).path;
  const realPsql = (await findTool('psql', 0)).path;
  await writeFile(path.join(bin, 'pg_dump'), `#!/bin/sh\nexec '${realDump}' "$@"\n`);
  const body = kind === 'fail'
    ? `head -c 2048 | '${realPsql}' "$@"\necho "psql: simulated failure halfway" >&2\nexit 3\n`
    : `touch '${marker}'\nexec sleep 60\n`;
  await writeFile(path.join(bin, 'psql'), `#!/bin/sh\nif [ "$1" = "--version" ]; then exec '${realPsql}' --version; fi\n${body}`);
  await chmod(path.join(bin, 'pg_dump'), 0o755);
  await chmod(path.join(bin, 'psql'), 0o755);
  const config = path.join(root, 'ayb.toml');
  await writeFile(config, `[tools]\npg_bin_dir = ${JSON.stringify(bin)}\n`);
  return { config, marker, remove: () => rm(root, { recursive: true, force: true }) };
}

describe('branch reset', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });
  const ids = async (database: string) => (await cluster.query('SELECT id FROM items ORDER BY id', [], database)).rows.map((r) => r.id);
  const resetLeftovers = async () =>
    (await cluster.query("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_reset\\_%'")).rows.map((r) => r.datname);

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)', [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    for (const [name, from] of [['feat', 'main'], ['sub', 'feat']]) {
      const made = await cli('branch', 'create', name!, '--from', from!, '--ttl', '7d');
      if (made.exitCode !== 0) throw new Error(made.stderr);
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("discards the branch's writes, ends its sessions, and keeps its name, database, id and expiry", async () => {
    const before = (await cli('branch', 'show', 'feat', '--json')).json();
    await cluster.query('INSERT INTO items VALUES (99); CREATE TABLE scratch (x int)', [], 'ayb_branch_feat');
    const session = new pg.Client({ host: cluster.conn.host, port: cluster.port, user: cluster.conn.user, password: cluster.conn.password, database: 'ayb_branch_feat' });
    session.on('error', () => undefined);
    await session.connect();
    // A database that looks like a reset's temporary copy, which ayb never made nor wrote down: left alone.
    const notOurs = 'ayb_reset_0123456789abcdef_new';
    await cluster.createDatabase(notOurs);

    const reset = await cli('branch', 'reset', 'feat', '--json');
    expect(reset.exitCode).toBe(0);
    const after = reset.json();
    for (const key of ['id', 'name', 'branch_database', 'source_database', 'created_at', 'expires_at', 'parent'] as const) {
      expect(after[key]).toEqual(before[key]);
    }
    expect(Date.parse(after.updated_at)).toBeGreaterThan(Date.parse(before.updated_at));
    expect(await ids('ayb_branch_feat')).toEqual([1, 2]);
    const scratch = await cluster.query("SELECT to_regclass('public.scratch') AS t", [], 'ayb_branch_feat');
    expect(scratch.rows[0].t).toBeNull();
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
    expect(await resetLeftovers()).toEqual([notOurs]);
    await cluster.query(`DROP DATABASE ${notOurs}`, [], 'postgres');
    // The temporaries written down for the reset are forgotten once gone.
    expect((await cluster.query("SELECT temp_databases FROM _ayb_branches WHERE name = 'feat'", [], 'app')).rows).toEqual([{ temp_databases: [] }]);
    const control = await cluster.query("SELECT to_regclass('public._ayb_branches') AS t", [], 'ayb_branch_feat');
    expect(control.rows[0].t).toBeNull();
  });

  it("picks up the source's new writes, with either strategy; a branch of a branch resets from its parent", async () => {
    await cluster.query('INSERT INTO items VALUES (3)', [], 'app');
    const dump = await cli('branch', 'reset', 'feat', '--strategy', 'dump', '--json');
    expect(dump.exitCode).toBe(0);
    expect(dump.json()).toMatchObject({ strategy: 'dump', copy_method: 'pg_dump' });
    expect(await ids('ayb_branch_feat')).toEqual([1, 2, 3]);

    await cluster.query('INSERT INTO items VALUES (7)', [], 'ayb_branch_feat');
    await cluster.query('INSERT INTO items VALUES (8)', [], 'ayb_branch_sub');
    const sub = await cli('branch', 'reset', 'sub');
    expect(sub.exitCode).toBe(0);
    expect(sub.stderr).toMatch(/Reset branch "sub" to the current state of branch "feat" \(template\)/);
    expect(await ids('ayb_branch_sub')).toEqual([1, 2, 3, 7]);
  });

  it('resets a branch made from a URL, whose password was not recorded', async () => {
    await cluster.createDatabase('other');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (10)', [], 'other');
    const made = await cli('branch', 'create', 'ext', '--from', cluster.url('other'), '--json');
    expect(made.exitCode).toBe(0);
    expect(made.json().source_database).not.toContain(cluster.conn.password!);
    await cluster.query('INSERT INTO items VALUES (11)', [], 'other');
    // A dump connects to the source, so it needs the password the record leaves out.
    const reset = await cli('branch', 'reset', 'ext', '--strategy', 'dump');
    expect(reset.exitCode).toBe(0);
    expect(reset.stderr).toMatch(/to the current state of postgres:\/\/ayb@127\.0\.0\.1:\d+\/other \(dump\)/);
    expect(await ids('ayb_branch_ext')).toEqual([10, 11]);
  });

  it('leaves the branch intact and no temporary database when the copy fails halfway', async () => {
    await cluster.query('INSERT INTO items VALUES (555)', [], 'ayb_branch_feat');
    const tools = await brokenPsql('fail');
    try {
      const failed = await cli('branch', 'reset', 'feat', '--strategy', 'dump', '--config', tools.config, '--json');
      expect(failed.exitCode).toBe(5);
      expect(failed.json().error.code).toMatch(/^(psql|pg_dump)_failed$/);
    } finally {
      await tools.remove();
    }
    expect(await ids('ayb_branch_feat')).toEqual([1, 2, 3, 7, 555]);
    expect(await resetLeftovers()).toEqual([]);
    expect((await cli('branch', 'show', 'feat', '--json')).json()).toMatchObject({ status: 'ready' });
  });

  it('leaves the branch intact and no temporary database on Ctrl-C', async () => {
    const tools = await brokenPsql('hang');
    try {
      const child = spawnCli(['branch', 'reset', 'feat', '--strategy', 'dump', '--config', tools.config], { env });
      await waitUntil('the restore to start', () => access(tools.marker).then(() => true, () => false), 30_000);
      child.kill('SIGINT');
      const result = await child;
      expect(result.exitCode).toBe(130);
      expect(String(result.stderr)).toMatch(/Interrupted/);
    } finally {
      await tools.remove();
    }
    expect(await ids('ayb_branch_feat')).toEqual([1, 2, 3, 7, 555]);
    expect(await resetLeftovers()).toEqual([]);
    expect(await allowsConnections(cluster, 'ayb_branch_feat')).toBe(true);
  });

  it('conflicts while another ayb process holds the branch, and fails with exit 3 when the source is gone', async () => {
    const lock = await holdBranchLock(cluster, 'ayb_branch_feat');
    try {
      expect((await cli('branch', 'reset', 'feat', '--json')).json().error).toMatchObject({ code: 'branch_busy', exit_code: 4 });
    } finally {
      await lock.release();
    }
    expect((await cli('branch', 'reset', 'nope', '--json')).json().error).toMatchObject({ code: 'branch_not_found', exit_code: 3 });

    await cluster.query('INSERT INTO items VALUES (42)', [], 'ayb_branch_sub');
    // The parent's database vanished (dropped by hand), then its record too.
    await cluster.query('DROP DATABASE ayb_branch_feat', [], 'postgres');
    const dropped = await cli('branch', 'reset', 'sub');
    expect(dropped.exitCode).toBe(3);
    expect(dropped.stderr).toMatch(/^Error: cannot reset branch "sub": its source database "ayb_branch_feat" no longer exists\nHint: the branch is unchanged; .*ayb branch delete sub --yes && ayb branch create sub/);
    await cluster.query("DELETE FROM _ayb_branches WHERE name = 'feat'", [], 'app');
    const deleted = await cli('branch', 'reset', 'sub', '--json');
    expect(deleted.exitCode).toBe(3);
    expect(deleted.json().error).toMatchObject({ code: 'source_not_found', message: 'cannot reset branch "sub": it was made from branch "feat", which no longer exists' });
    expect(await ids('ayb_branch_sub')).toEqual([1, 2, 3, 7, 42]);
    expect(await databaseExists(cluster, 'ayb_branch_sub')).toBe(true);
  });

  it('the temporaries written down for a branch are removed by the next command, and only those', async () => {
    for (const name of ['gone', 'pruned']) {
      const made = await cli('branch', 'create', name, '--from', 'main', '--strategy', 'dump');
      if (made.exitCode !== 0) throw new Error(made.stderr);
    }
    // As a reset killed mid-copy (`_new`) or right after the swap (`_old`) leaves them (written
    // down before they were made); the next command, here a delete, removes them for every branch.
    const temps = { gone: ['ayb_reset_00000000000000aa_new', 'ayb_reset_00000000000000aa_old'], pruned: ['ayb_reset_00000000000000bb_new'] };
    for (const [name, databases] of Object.entries(temps)) {
      for (const database of databases) await cluster.createDatabase(database);
      await cluster.query('UPDATE _ayb_branches SET temp_databases = $2 WHERE name = $1', [name, databases], 'app');
    }
    await cluster.createDatabase('ayb_reset_00000000000000cc_new');
    expect((await cli('branch', 'delete', 'gone', '--yes')).exitCode).toBe(0);
    expect((await cli('branch', 'expire', 'pruned', '--expires-at', '2000-01-01T00:00:00Z')).exitCode).toBe(0);
    const pruned = await cli('branch', 'prune', '--json');
    expect(pruned.exitCode).toBe(0);
    expect(await resetLeftovers()).toEqual(['ayb_reset_00000000000000cc_new']);
    expect(await databaseExists(cluster, 'ayb_branch_pruned')).toBe(false);
    await cluster.query('DROP DATABASE ayb_reset_00000000000000cc_new', [], 'postgres');
  });

  it('a reset killed while the branch refuses connections: its guard allows them again, and the branch is as it was', async () => {
    const made = await cli('branch', 'create', 'swap', '--from', 'main');
    if (made.exitCode !== 0) throw new Error(made.stderr);
    await cluster.query('INSERT INTO items VALUES (555)', [], 'ayb_branch_swap');
    const main = await ids('app');
    // The swap's rename of the branch database waits at the gate, its transaction open.
    await killWhileRefusing(cluster, ['branch', 'reset', 'swap'], env, {
      gated: 'ayb_branch_swap', prefix: 'ALTER DATABASE', refused: 'ayb_branch_swap', healed: 'ayb_branch_swap', onRefusingSession: true,
    });
    // Without its client, the transaction never committed: the branch keeps its contents and name.
    expect(await ids('ayb_branch_swap')).toEqual([...main, 555]);
    // The next reset clears the temporary copy away and does the job.
    expect((await cli('branch', 'reset', 'swap')).exitCode).toBe(0);
    expect(await ids('ayb_branch_swap')).toEqual(main);
    expect(await resetLeftovers()).toEqual([]);
  });
});
