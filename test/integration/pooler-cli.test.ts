import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer, type RunningServer } from '../helpers/server.js';

/**
 * `ayb start --pooler` serving, and a create made by the CLI or the library (not through the admin
 * API) from a branch a client is connected to through the pooler: the CLI asks the server to pause
 * the source in the pooler (pooler/pause-socket.ts), so the copy is a template copy and the client
 * keeps its connection. Without that, the CLI found the client's server session on the source and
 * dumped.
 *
 * Judged by the server and the pooler, not ayb's record: a template copy keeps the tables' OIDs
 * (pg_class.oid), which a dump restored into a new database never does; the pooler's own admin
 * console (SHOW DATABASES) says when the source is paused; the client's socket never closes.
 */
describe('a busy parent branched by the CLI and the library while ayb start --pooler serves', () => {
  let cluster: TestCluster;
  let server: RunningServer;
  let stateDir: string;
  let env: Record<string, string>;
  let token: string;
  const PASSWORD = 'pooler-cli-test';

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 50) g", [], 'app');
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'ayb-pcli-'));
    env = { AYB_DATABASE_URL: cluster.url('app'), AYB_STATE_DIR: stateDir };
    server = await startServer(['--pooler', '--json'], { env: { ...env, AYB_ADMIN_PASSWORD: PASSWORD } });
    token = await server.login(PASSWORD);
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const itemsOid = async (database: string) => (await cluster.query<{ oid: string }>("SELECT 'items'::regclass::oid::text AS oid", [], database)).rows[0]!.oid;
  const poolerPort = () => Number(new URL((JSON.parse(server.stdout()) as { pooler_url: string }).pooler_url).port);
  /** The pooler's own word on whether it holds `database` paused (its admin console). */
  const pausedInPooler = async (database: string) => {
    const admin = new pg.Client({ host: '127.0.0.1', port: poolerPort(), user: new URL(cluster.url('app')).username, password: decodeURIComponent(new URL(cluster.url('app')).password), database: 'pgbouncer' });
    await admin.connect();
    try {
      const { rows, fields } = await admin.query({ text: 'SHOW DATABASES', rowMode: 'array' });
      const columns = fields.map((f) => f.name);
      const row = rows.find((r: unknown[]) => r[columns.indexOf('name')] === database) as unknown[] | undefined;
      return row !== undefined && Number(row[columns.indexOf('paused')]) === 1;
    } finally {
      await admin.end();
    }
  };
  const agentOn = async (name: string) => {
    const { url } = (await (await server.fetch(`/api/admin/branches/${name}/url`, { token })).json()) as { url: string };
    const agent = new pg.Client({ connectionString: url, application_name: 'pooled-agent' });
    const errors: Error[] = [];
    let ended = false;
    agent.on('error', (error) => errors.push(error));
    agent.on('end', () => { ended = true; });
    await agent.connect();
    return { agent, errors, ended: () => ended };
  };

  it('ayb start --json says the pooler URL of the served database', () => {
    const started = JSON.parse(server.stdout()) as { pooler_url?: string; database_url: string };
    expect(started.pooler_url).toBeDefined();
    const pooled = new URL(started.pooler_url!);
    expect(pooled.pathname).toBe('/app');
    expect(pooled.port).not.toBe(new URL(cluster.url('app')).port);
    expect(started.pooler_url).not.toContain(decodeURIComponent(new URL(cluster.url('app')).password));
  });

  it('the CLI branches a branch a client sits idle on, by a template copy, and the client keeps its connection', async () => {
    expect((await runCli(['branch', 'create', 'work', '--json'], { env })).exitCode).toBe(0);
    const { agent, errors, ended } = await agentOn('work');
    await agent.query("INSERT INTO items VALUES (1000, 'agent row')");
    // Idle, connected: the pooler keeps a server session of its pool on the branch.
    const before = await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'ayb_branch_work'", [], 'postgres');
    expect(before.rows[0]!.n).toBeGreaterThan(0);

    const made = await runCli(['branch', 'create', 'child', '--from', 'work', '--json'], { env });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ name: 'child', strategy: 'template' });
    expect(await itemsOid('ayb_branch_child')).toBe(await itemsOid('ayb_branch_work'));
    expect((await cluster.query('SELECT note FROM items WHERE id = 1000', [], 'ayb_branch_child')).rows).toEqual([{ note: 'agent row' }]);
    // Resumed: the same client, never reconnected, goes on.
    expect(await pausedInPooler('ayb_branch_work')).toBe(false);
    expect((await agent.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 51 }]);
    expect(errors).toEqual([]);
    expect(ended()).toBe(false);
    await agent.end();
  });

  it('a transaction open when the CLI asks is waited for: the copy has its rows, and is a template copy', async () => {
    const { agent, errors, ended } = await agentOn('work');
    await agent.query('BEGIN');
    await agent.query("INSERT INTO items VALUES (2000, 'in the transaction')");
    const create = runCli(['branch', 'create', 'child-tx', '--from', 'work', '--json'], { env });
    // The pooler says it is pausing; the copy waits for this transaction.
    for (let i = 0; !(await pausedInPooler('ayb_branch_work')); i++) {
      if (i > 600) throw new Error('the pooler never paused the source');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await agent.query('COMMIT');
    const made = await create;
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ name: 'child-tx', strategy: 'template' });
    expect(await itemsOid('ayb_branch_child_tx')).toBe(await itemsOid('ayb_branch_work'));
    expect((await cluster.query('SELECT note FROM items WHERE id = 2000', [], 'ayb_branch_child_tx')).rows).toEqual([{ note: 'in the transaction' }]);
    expect((await agent.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 52 }]);
    expect(errors).toEqual([]);
    expect(ended()).toBe(false);
    await agent.end();
  });

  it('the library (a Node program) branches the busy branch the same way', async () => {
    const { agent, errors, ended } = await agentOn('work');
    await agent.query('SELECT 1');
    const program = `const { openAyb } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'lib', 'index.js'))});
      const ayb = await openAyb();
      process.stdout.write(JSON.stringify(await ayb.create('lib-child', { from: 'work' })));`;
    const result = await execa('node', ['--input-type=module', '-e', program], { env: { ...process.env, ...env }, reject: false });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(JSON.parse(String(result.stdout))).toMatchObject({ name: 'lib-child', strategy: 'template' });
    expect(await itemsOid('ayb_branch_lib_child')).toBe(await itemsOid('ayb_branch_work'));
    expect((await agent.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 52 }]);
    expect(errors).toEqual([]);
    expect(ended()).toBe(false);
    await agent.end();
  });

  it('a CLI create and an API create of the same busy branch at once share one pause: both template copies, resumed after', async () => {
    const { agent, errors, ended } = await agentOn('work');
    await agent.query('SELECT 1');
    const [byCli, byApi] = await Promise.all([
      runCli(['branch', 'create', 'both-cli', '--from', 'work', '--json'], { env }),
      server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'both-api', from: 'work' } }),
    ]);
    expect(byCli.exitCode, byCli.stderr).toBe(0);
    expect(byCli.json()).toMatchObject({ strategy: 'template' });
    expect(byApi.status).toBe(201);
    expect(await byApi.json()).toMatchObject({ strategy: 'template' });
    for (const child of ['ayb_branch_both_cli', 'ayb_branch_both_api']) expect(await itemsOid(child)).toBe(await itemsOid('ayb_branch_work'));
    expect(await pausedInPooler('ayb_branch_work')).toBe(false);
    expect((await agent.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 52 }]);
    expect(errors).toEqual([]);
    expect(ended()).toBe(false);
    await agent.end();
  });

  it('with the server stopped, its socket is gone and the CLI creates as without a pooler', async () => {
    expect(await readdir(path.join(stateDir, 'poolers'))).toHaveLength(1);
    await server.stop();
    expect(await readdir(path.join(stateDir, 'poolers'))).toEqual([]);
    const after = await runCli(['branch', 'create', 'after-stop', '--from', 'work', '--json'], { env });
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.json()).toMatchObject({ strategy: 'template' });
  });
});
