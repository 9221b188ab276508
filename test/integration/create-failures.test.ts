import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { jsonError, textError } from '../helpers/cli-errors.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import {
  branchDatabases,
  fillPoisonedSource,
  holdGate,
  toolSessions,
  waitUntil,
  waitForDumpAtGate,
} from '../helpers/clone-probes.js';
import { type FakeTools, fakeTools } from '../helpers/fake-tools.js';

/**
 * The dump pipeline cannot lie: when pg_dump or psql fails, the create fails (exit 5) naming the
 * tool and quoting its stderr, the partial database is dropped and the row says `failed`.
 */
describe('branch create failures (dump pipeline)', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const toolDirs: FakeTools[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    // Big enough (~1 MB of dump) that neither side of the pipe can finish before the other fails.
    await cluster.query(
      `CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL);
       INSERT INTO items (label) SELECT repeat(md5(g::text), 6) FROM generate_series(1, 5000) g;`,
      [],
      'app',
    );
    await cluster.createDatabase('poison');
    await fillPoisonedSource(cluster, 'poison');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await Promise.all(toolDirs.map((t) => t.remove()));
    await cluster?.stop();
  });

  async function tools(...args: Parameters<typeof fakeTools>): Promise<FakeTools> {
    const made = await fakeTools(...args);
    toolDirs.push(made);
    return made;
  }

  /** pg_dump that sends 20 kB of the dump, then fails. */
  const brokenDump = () => tools({
    pg_dump: { kind: 'fail-halfway', afterBytes: 20_000, exitCode: 1, stderr: 'pg_dump: error: simulated failure halfway' },
    psql: { kind: 'logged' },
  });

  async function row(name: string): Promise<{ status: string; error_message: string | null; strategy: string | null } | undefined> {
    const { rows } = await cluster.query('SELECT status, error_message, strategy FROM _ayb_branches WHERE name = $1', [name], 'app');
    expect(rows.length).toBeLessThanOrEqual(1);
    return rows[0] as { status: string; error_message: string | null; strategy: string | null } | undefined;
  }

  async function expectLeftNothing(name: string, message: RegExp): Promise<void> {
    expect(await branchDatabases(cluster)).toEqual([]);
    const after = await row(name);
    expect(after?.status).toBe('failed');
    expect(after?.strategy).toBe('dump');
    expect(after?.error_message).toMatch(message);
    await waitUntil('the pg_dump and psql sessions to end', async () => (await toolSessions(cluster)).length === 0, 10_000);
  }

  it('pg_dump failing halfway: exit 5, names pg_dump with its stderr, drops the partial database, row failed', async () => {
    const broken = await brokenDump();
    const result = await runCli(['branch', 'create', 'dump-fails', '--strategy', 'dump', '--config', broken.configFile, '--json'], { env });
    // Neither side may wait forever for the other: a deadlock ends in the test's timeout, never in exit 5.
    const error = jsonError(result, 5, 'pg_dump_failed');
    expect(error.tool).toBe('pg_dump');
    expect(error.message).toMatch(/^pg_dump exited with code 1: .*simulated failure halfway/);
    expect(error.hint).toBeTruthy();
    expect(result.stderr).toBe('');
    // psql really ran (and got part of the dump) before the failure was noticed.
    expect((await broken.calls()).map((c) => c.tool)).toContain('psql');
    await expectLeftNothing('dump-fails', /^pg_dump exited with code 1: .*simulated failure halfway/);
  });

  it('the same failure without --json: an Error line naming pg_dump, a Hint line, nothing on stdout', async () => {
    const broken = await brokenDump();
    const result = await runCli(['branch', 'create', 'dump-fails', '--strategy', 'dump', '--config', broken.configFile], { env });
    textError(result, 5, /^Error: pg_dump exited with code 1: .*simulated failure halfway\nHint: .+$/m);
  });

  it('a create of a name whose row failed replaces that row', async () => {
    expect((await row('dump-fails'))?.status).toBe('failed');
    const result = await runCli(['branch', 'create', 'dump-fails', '--strategy', 'dump', '--json'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.json()).toMatchObject({ name: 'dump-fails', status: 'ready' });
    expect(result.json()).not.toHaveProperty('error_message');
    expect(await row('dump-fails')).toMatchObject({ status: 'ready', error_message: null });
    const { rows } = await cluster.query('SELECT count(*)::int AS n FROM items', [], 'ayb_branch_dump_fails');
    expect(rows[0].n).toBe(5000);
    expect((await runCli(['branch', 'delete', 'dump-fails', '--yes'], { env })).exitCode).toBe(0);
  });

  it('psql failing halfway: exit 5, names psql with its stderr, stops pg_dump, drops the partial database', async () => {
    const broken = await tools({
      pg_dump: { kind: 'logged' },
      // psql's input is cut after 20 kB and it closes it, so pg_dump fails to write a second before
      // psql reports its own failure: that broken pipe is psql's doing, not pg_dump's.
      psql: { kind: 'fail-halfway', afterBytes: 20_000, exitCode: 3, stderr: 'psql: error: simulated failure halfway', lingerSeconds: 1 },
    });
    const result = await runCli(['branch', 'create', 'psql-fails', '--strategy', 'dump', '--config', broken.configFile, '--json'], { env });
    // Neither side may wait forever for the other: a deadlock ends in the test's timeout, never in exit 5.
    const error = jsonError(result, 5, 'psql_failed');
    expect(error.tool).toBe('psql');
    expect(error.message).toMatch(/^psql exited with code 3: .*simulated failure halfway/);
    await expectLeftNothing('psql-fails', /^psql exited with code 3/);
  });

  it('a real restore error stops psql at once (ON_ERROR_STOP): exit 5 with PostgreSQL\'s message', async () => {
    // b_poisoned's rows violate a CHECK in any ayb_branch_* database; c_after comes after it.
    const result = await runCli(['branch', 'create', 'poisoned', '--from', cluster.url('poison'), '--strategy', 'dump', '--json'], { env });
    const error = jsonError(result, 5, 'psql_failed');
    expect(error.message).toMatch(/^psql exited with code 3: .*violates check constraint "b_poisoned_id_check"/);
    expect(error.message).not.toContain(cluster.conn.password!);
    await expectLeftNothing('poisoned', /violates check constraint/);
  });

  it('psql reads no psqlrc (neither ~/.psqlrc nor $PSQLRC)', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'ayb-home-'));
    try {
      const rc = "CREATE TABLE psqlrc_was_read ();\n\\set ON_ERROR_STOP off\n";
      await writeFile(path.join(home, '.psqlrc'), rc);
      await writeFile(path.join(home, 'psqlrc'), rc);
      const result = await runCli(['branch', 'create', 'no-rc', '--strategy', 'dump'], { env: { ...env, HOME: home, PSQLRC: path.join(home, 'psqlrc') } });
      expect(result.exitCode).toBe(0);
      const { rows } = await cluster.query("SELECT to_regclass('public.psqlrc_was_read') IS NULL AS absent", [], 'ayb_branch_no_rc');
      expect(rows[0].absent).toBe(true);
      expect((await runCli(['branch', 'delete', 'no-rc', '--yes'], { env })).exitCode).toBe(0);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('a source that disappears mid-dump: exit 5 naming pg_dump, nothing left half-made', async () => {
    await cluster.createDatabase('vanishing');
    await cluster.query('CREATE TABLE t (id int); INSERT INTO t VALUES (1)', [], 'vanishing');
    const gate = await holdGate(cluster, 'vanishing', 't');
    try {
      const create = spawnCli(['branch', 'create', 'orphan', '--from', cluster.url('vanishing'), '--strategy', 'dump', '--json'], { env });
      await waitForDumpAtGate(cluster);
      await cluster.query('DROP DATABASE vanishing WITH (FORCE)', [], 'postgres');
      const result = await create;
      const error = JSON.parse(String(result.stdout)).error;
      expect(result.exitCode).toBe(5);
      expect(error.code).toBe('pg_dump_failed');
      expect(error.message).toMatch(/^pg_dump exited with code 1: .*terminating connection due to administrator command/);
    } finally {
      await gate.release();
    }
    await expectLeftNothing('orphan', /^pg_dump exited with code 1/);
  });

  it('losing its own connections mid-clone still leaves nothing half-made', async () => {
    const gate = await holdGate(cluster, 'app', 'items');
    try {
      const create = spawnCli(['branch', 'create', 'cut-off', '--strategy', 'dump', '--json'], { env });
      await waitForDumpAtGate(cluster);
      // Every session ayb has open: its maintenance connection (holding the branch lock) and pg_dump's.
      await cluster.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ('ayb', 'ayb-pg_dump', 'ayb-psql')",
        [],
        'postgres',
      );
      const result = await create;
      expect(result.exitCode).toBe(5);
      expect(Object.keys(JSON.parse(String(result.stdout)))).toEqual(['error']);
    } finally {
      await gate.release();
    }
    expect(await branchDatabases(cluster)).toEqual([]);
    expect((await row('cut-off'))?.status).toBe('failed');
  });

  it('every failed create above left a failed row and no database; list shows them', async () => {
    const list = await runCli(['branch', 'list', '--json'], { env });
    expect(list.exitCode).toBe(0);
    const byName = new Map(list.json().map((b: { name: string; status: string }) => [b.name, b.status]));
    for (const name of ['psql-fails', 'poisoned', 'orphan', 'cut-off']) expect(byName.get(name)).toBe('failed');
    expect(await branchDatabases(cluster)).toEqual([]);
  });
});
