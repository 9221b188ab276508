import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advisoryLockWaiters, databaseExists, holdBranchLock } from '../helpers/branch-lock.js';
import { waitUntil } from '../helpers/gate.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Expiry times, prune, and create --if-not-exists for CI re-runs. */
describe('branch expiry and prune', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });
  // Straight from the control table, oldest first like `list`: cheaper than a CLI run per check.
  const names = async () =>
    (await cluster.query<{ name: string }>('SELECT name FROM _ayb_branches ORDER BY created_at, name', [], 'app')).rows.map((r) => r.name);

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY)', [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('stores a --ttl, shows it in create, show, list and --json, and changes it with expire', async () => {
    const before = Date.now();
    const created = await cli('branch', 'create', 'ttl-a', '--ttl', '2h', '--json');
    expect(created.exitCode).toBe(0);
    const expires = Date.parse(created.json().expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 2 * HOUR);
    expect(expires).toBeLessThanOrEqual(Date.now() + 2 * HOUR);

    expect((await cli('branch', 'show', 'ttl-a', '--json')).json().expires_at).toBe(created.json().expires_at);
    const table = await cli('branch', 'list');
    expect(table.stdout).toMatch(/ttl-a .* in (1h 59m|2h) *$/m);

    const never = await cli('branch', 'expire', 'ttl-a', '--never', '--json');
    expect(never.exitCode).toBe(0);
    expect(never.json().expires_at).toBeNull();

    const at = await cli('branch', 'expire', 'ttl-a', '--expires-at', '2031-02-03T04:05:06Z', '--json');
    expect(at.json().expires_at).toBe('2031-02-03T04:05:06.000Z');
    const beforeTtl = Date.now();
    const ttl = await cli('branch', 'expire', 'ttl-a', '--ttl', '1d12h', '--json');
    expect(Date.parse(ttl.json().expires_at)).toBeGreaterThanOrEqual(beforeTtl + 36 * HOUR);
    expect(Date.parse(ttl.json().expires_at)).toBeLessThanOrEqual(Date.now() + 36 * HOUR);
  });

  it('rejects bad expiry flags with exit 2 and a missing branch with exit 3', async () => {
    const bad = await cli('branch', 'create', 'ttl-bad', '--ttl', '7', '--json');
    expect(bad.exitCode).toBe(2);
    expect(bad.json().error).toMatchObject({ code: 'invalid_duration' });
    expect(bad.json().error.hint).toMatch(/7h/);
    expect((await cli('branch', 'create', 'ttl-bad', '--ttl', '1h', '--never-expires')).exitCode).toBe(2);
    expect(await names()).not.toContain('ttl-bad');
    const none = await cli('branch', 'expire', 'ttl-a');
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/Hint: give one of --ttl/);
    expect((await cli('branch', 'expire', 'nope', '--ttl', '1h', '--json')).json().error).toMatchObject({ code: 'branch_not_found', exit_code: 3 });
  });

  it('applies [branching] default_ttl unless the create says otherwise', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-ttl-'));
    const config = path.join(dir, 'ayb.toml');
    await writeFile(config, '[branching]\ndefault_ttl = "3d"\n');
    const before = Date.now();
    const [withDefault, optOut, own, plain] = await Promise.all([
      cli('branch', 'create', 'ttl-default', '--config', config, '--json'),
      cli('branch', 'create', 'ttl-forever', '--config', config, '--never-expires', '--json'),
      cli('branch', 'create', 'ttl-own', '--config', config, '--ttl', '30m', '--json'),
      cli('branch', 'create', 'ttl-plain', '--json'),
    ]);
    const after = Date.now();
    // The lifetime counts from the create: between the moments before and after the commands ran.
    expect(Date.parse(withDefault.json().expires_at)).toBeGreaterThanOrEqual(before + 3 * DAY);
    expect(Date.parse(withDefault.json().expires_at)).toBeLessThanOrEqual(after + 3 * DAY);
    expect(optOut.json().expires_at).toBeNull();
    expect(Date.parse(own.json().expires_at)).toBeGreaterThanOrEqual(before + 30 * 60_000);
    expect(Date.parse(own.json().expires_at)).toBeLessThanOrEqual(after + 30 * 60_000);
    expect(plain.json().expires_at).toBeNull();
    const deletes = await Promise.all(['ttl-default', 'ttl-forever', 'ttl-own', 'ttl-plain', 'ttl-a'].map((name) => cli('branch', 'delete', name, '--yes')));
    expect(deletes.map((d) => d.exitCode)).toEqual([0, 0, 0, 0, 0]);
  });

  it('prune --dry-run lists the expired branches and deletes nothing; prune deletes only those', async () => {
    // One at a time: list order (oldest first) is asserted below.
    await cli('branch', 'create', 'keep-forever');
    await cli('branch', 'create', 'keep-soon', '--ttl', '1d');
    expect((await cli('branch', 'create', 'gone-past', '--expires-at', '2020-01-01T00:00:00Z', '--allow-past')).exitCode).toBe(0);

    const dry = await cli('branch', 'prune', '--dry-run', '--json');
    expect(dry.exitCode).toBe(0);
    expect(dry.json()).toEqual({
      dry_run: true,
      branches: [expect.objectContaining({ name: 'gone-past', reasons: ['expired'], action: 'would_delete', expires_at: '2020-01-01T00:00:00.000Z' })],
    });
    expect(await databaseExists(cluster, 'ayb_branch_gone_past')).toBe(true);
    expect(await names()).toEqual(['keep-forever', 'keep-soon', 'gone-past']);
    const dryTable = await cli('branch', 'prune', '--dry-run');
    expect(dryTable.stdout).toMatch(/gone-past .* would delete/);
    expect(dryTable.stderr).toMatch(/Would delete 1 branch\./);

    const pruned = await cli('branch', 'prune', '--json');
    expect(pruned.exitCode).toBe(0);
    expect(pruned.json().branches.map((b: { name: string; action: string }) => [b.name, b.action])).toEqual([['gone-past', 'deleted']]);
    expect(await databaseExists(cluster, 'ayb_branch_gone_past')).toBe(false);
    expect(await names()).toEqual(['keep-forever', 'keep-soon']);

    const again = await cli('branch', 'prune');
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/Nothing to prune/);
  });

  it('prune --older-than and --failed add branches by age and status; a live create is never touched', async () => {
    const made = await Promise.all(['aged', 'broken', 'stale', 'live'].map((name) => cli('branch', 'create', name)));
    expect(made.map((m) => m.exitCode)).toEqual([0, 0, 0, 0]);
    await cluster.query("UPDATE _ayb_branches SET created_at = now() - interval '10 days' WHERE name = 'aged'", [], 'app');
    await cluster.query("UPDATE _ayb_branches SET status = 'failed', error_message = 'pg_dump failed' WHERE name = 'broken'", [], 'app');
    // Half-made rows: `stale` was left by a process that died; `live` is being created right now (its lock is held).
    await cluster.query("UPDATE _ayb_branches SET status = 'creating' WHERE name IN ('stale', 'live')", [], 'app');
    await cluster.query("UPDATE _ayb_branches SET expires_at = '2020-01-01' WHERE name = 'live'", [], 'app');
    const lock = await holdBranchLock(cluster, 'ayb_branch_live');
    try {
      const plain = await cli('branch', 'prune', '--json');
      expect(plain.json().branches.map((b: { name: string; action: string; detail?: string }) => [b.name, b.action, b.detail])).toEqual([
        ['live', 'skipped', 'being created right now'],
      ]);

      const aged = await cli('branch', 'prune', '--older-than', '7d', '--json');
      expect(aged.json().branches.filter((b: { action: string }) => b.action === 'deleted').map((b: { name: string }) => b.name)).toEqual(['aged']);

      const dry = await cli('branch', 'prune', '--failed', '--dry-run', '--json');
      const actions = Object.fromEntries(dry.json().branches.map((b: { name: string; action: string }) => [b.name, b.action]));
      expect(actions).toEqual({ broken: 'would_delete', stale: 'would_delete', live: 'skipped' });

      const failed = await cli('branch', 'prune', '--failed', '--json');
      const done = Object.fromEntries(failed.json().branches.map((b: { name: string; action: string }) => [b.name, b.action]));
      expect(done).toEqual({ broken: 'deleted', stale: 'deleted', live: 'skipped' });
      expect(await databaseExists(cluster, 'ayb_branch_stale')).toBe(false);
      expect(await databaseExists(cluster, 'ayb_branch_live')).toBe(true);
      expect(await names()).toEqual(['keep-forever', 'keep-soon', 'live']);
      expect((await cli('branch', 'prune', '--older-than', 'ages')).exitCode).toBe(2);
    } finally {
      await lock.release();
    }
    await cli('branch', 'delete', 'live', '--yes', '--force');
  });

  it('prune skips a parent whose children stay, and deletes children before parents', async () => {
    await cli('branch', 'create', 'parent-x', '--expires-at', '2020-01-01', '--allow-past');
    await cli('branch', 'create', 'child-x', '--from', 'parent-x');
    const skipped = await cli('branch', 'prune', '--json');
    expect(skipped.json().branches).toEqual([
      expect.objectContaining({ name: 'parent-x', action: 'skipped', detail: 'branches were made from it: child-x' }),
    ]);
    expect(await names()).toContain('parent-x');

    await cli('branch', 'expire', 'child-x', '--expires-at', '2020-01-01');
    const both = await cli('branch', 'prune', '--json');
    expect(both.json().branches.map((b: { name: string; action: string }) => [b.name, b.action])).toEqual([
      ['child-x', 'deleted'],
      ['parent-x', 'deleted'],
    ]);
    expect(await names()).toEqual(['keep-forever', 'keep-soon']);
  });

  it('Ctrl-C during prune finishes the branch being dropped (database and row), exits 130 and leaves the rest', async () => {
    for (const name of ['int-a', 'int-b']) {
      expect((await cli('branch', 'create', name, '--expires-at', '2020-01-01', '--allow-past')).exitCode).toBe(0);
    }
    // A row lock on int-a's record: prune's marking of it as deleting (before the drop) waits here.
    const { conn } = cluster;
    const holder = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: 'app' });
    holder.on('error', () => undefined);
    await holder.connect();
    let child: ReturnType<typeof spawnCli> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM _ayb_branches WHERE name = 'int-a' FOR UPDATE");
      child = spawnCli(['branch', 'prune'], { env });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      await waitUntil('prune to wait on the row lock', async () => {
        const { rowCount } = await cluster.query(
          "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'UPDATE%_ayb_branches%' AND wait_event_type = 'Lock'",
          [],
          'postgres',
        );
        return (rowCount ?? 0) > 0 || undefined;
      });
      child.kill('SIGINT');
      await waitUntil('ayb to take the interrupt', async () => /Interrupted \(SIGINT\)/.test(stderr) || undefined);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end().catch(() => undefined);
    }
    const result = await child!;
    expect(result.exitCode).toBe(130);
    expect(String(result.stderr)).toMatch(/^Error: interrupted by SIGINT\nHint: run the command again/m);
    // int-a went whole (its database and its row); int-b was not started.
    expect(await names()).not.toContain('int-a');
    expect(await databaseExists(cluster, 'ayb_branch_int_a')).toBe(false);
    expect(await names()).toContain('int-b');
    expect(await databaseExists(cluster, 'ayb_branch_int_b')).toBe(true);
    expect((await cli('branch', 'prune', '--json')).json().branches.map((b: { name: string; action: string }) => [b.name, b.action])).toEqual([
      ['int-b', 'deleted'],
    ]);
  });

  it('create --if-not-exists returns the existing branch unchanged, also to a concurrent re-run', async () => {
    const first = await cli('branch', 'create', 'pr-7', '--ttl', '2d', '--if-not-exists', '--json');
    expect(first.exitCode).toBe(0);
    const rerun = await cli('branch', 'create', 'pr-7', '--ttl', '5d', '--if-not-exists', '--json');
    expect(rerun.exitCode).toBe(0);
    expect(rerun.json()).toEqual(first.json());
    expect((await cli('branch', 'create', 'pr-7', '--json')).json().error).toMatchObject({ code: 'branch_exists', exit_code: 4 });

    // Two jobs start at once while a third process holds the branch: both wait, then one creates
    // and the other returns that branch.
    const lock = await holdBranchLock(cluster, 'ayb_branch_pr_8');
    const jobs = [0, 1].map(() => spawnCli(['branch', 'create', 'pr-8', '--ttl', '2d', '--if-not-exists', '--json'], { env }));
    try {
      await waitUntil('both creates to wait for the branch lock', async () => (await advisoryLockWaiters(cluster)) === 2, 30_000);
    } finally {
      await lock.release();
    }
    const [a, b] = await Promise.all(jobs);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    const [ja, jb] = [JSON.parse(String(a.stdout)), JSON.parse(String(b.stdout))];
    expect(ja).toEqual(jb);
    expect(ja).toMatchObject({ name: 'pr-8', status: 'ready' });
    expect(await names()).toEqual(['keep-forever', 'keep-soon', 'pr-7', 'pr-8']);
  });
});
