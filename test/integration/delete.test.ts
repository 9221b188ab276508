import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { BIN, runCli } from '../helpers/cli.js';

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `answer` at its prompt. */
async function runOnTerminal(args: string[], env: Record<string, string>, answer: string) {
  const command = ['node', BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const result = await execa('script', ['-qec', command, '/dev/null'], {
    env: { ...env, NO_COLOR: '1' },
    input: `${answer}\n`,
    reject: false,
    timeout: 60_000,
  });
  return { exitCode: result.exitCode, output: String(result.stdout) };
}

describe('branch delete', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const exists = async (db: string) => (await cluster.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount === 1;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('asks on a terminal and keeps the branch when the answer is no', async () => {
    expect((await runCli(['branch', 'create', 'ask'], { env })).exitCode).toBe(0);
    const no = await runOnTerminal(['branch', 'delete', 'ask'], env, 'n');
    expect(no.output).toMatch(/Delete branch "ask" and its database ayb_branch_ask\? \[y\/N\]/);
    // Declining is not a usage error: exit 1 (`cancelled`), as git and apt do when told no.
    expect(no.exitCode).toBe(1);
    expect(await exists('ayb_branch_ask')).toBe(true);
    const yes = await runOnTerminal(['branch', 'delete', 'ask'], env, 'y');
    expect(yes.exitCode).toBe(0);
    expect(yes.output).toMatch(/Deleted branch "ask"/);
    expect(await exists('ayb_branch_ask')).toBe(false);
  });

  it('ends the sessions connected to the branch', async () => {
    expect((await runCli(['branch', 'create', 'busy'], { env })).exitCode).toBe(0);
    const client = new pg.Client({ connectionString: cluster.url('ayb_branch_busy') });
    const ended = new Promise<void>((resolve) => client.on('error', () => resolve()));
    await client.connect();
    const result = await runCli(['branch', 'delete', 'busy', '--yes'], { env });
    expect(result.exitCode).toBe(0);
    await ended;
    expect(await exists('ayb_branch_busy')).toBe(false);
    await client.end().catch(() => undefined);
  });

  it('--if-exists succeeds for a missing branch; without it, exit 3', async () => {
    const missing = await runCli(['branch', 'delete', 'ghost', '--yes', '--json'], { env });
    expect(missing.exitCode).toBe(3);
    expect(missing.json().error.code).toBe('branch_not_found');
    const quiet = await runCli(['branch', 'delete', 'ghost', '--yes', '--if-exists', '--json'], { env });
    expect(quiet.exitCode).toBe(0);
    expect(quiet.json()).toEqual({ name: 'ghost', branch_database: 'ayb_branch_ghost', deleted: false });
  });

  it('needs --force for a failed branch, and then removes its row and leftover database', async () => {
    // A failed branch whose database was left behind (as after a crash during cleanup).
    await cluster.query(
      "INSERT INTO _ayb_branches (name, source_database, branch_database, status, error_message) VALUES ('broken', 'app', 'ayb_branch_broken', 'failed', 'psql exited with code 3')",
      [],
      'app',
    );
    await cluster.query('CREATE DATABASE ayb_branch_broken');
    const refused = await runCli(['branch', 'delete', 'broken', '--yes'], { env });
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toMatch(/--force/);
    const forced = await runCli(['branch', 'delete', 'broken', '--yes', '--force'], { env });
    expect(forced.exitCode).toBe(0);
    expect(await exists('ayb_branch_broken')).toBe(false);
    expect((await cluster.query("SELECT 1 FROM _ayb_branches WHERE name = 'broken'", [], 'app')).rowCount).toBe(0);
  });

  it('never drops a database that ayb did not register, even with --force', async () => {
    await cluster.query('CREATE DATABASE ayb_branch_handmade');
    const result = await runCli(['branch', 'delete', 'handmade', '--yes', '--force'], { env });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/not registered/);
    expect(await exists('ayb_branch_handmade')).toBe(true);
  });
});

describe('the control table', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    expect((await runCli(['branch', 'list'], { env: { AYB_DATABASE_URL: cluster.url('app') } })).exitCode).toBe(0);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('is created on demand and its constraints hold the invariants', async () => {
    const insert = (name: string, db: string, status: string) =>
      cluster.query('INSERT INTO _ayb_branches (name, source_database, branch_database, status) VALUES ($1, $2, $3, $4)', [name, 'app', db, status], 'app');
    await insert('a-b', 'ayb_branch_a_b', 'ready');
    await expect(insert('a-b', 'ayb_branch_a_b', 'ready')).rejects.toThrow(/unique/);
    await expect(insert('a_b', 'ayb_branch_a_b', 'ready')).rejects.toThrow(/unique/);
    await expect(insert('c', 'ayb_branch_c', 'done')).rejects.toThrow(/check constraint/);
    await expect(insert('Bad', 'ayb_branch_Bad', 'ready')).rejects.toThrow(/check constraint/);
    await expect(insert('main', 'ayb_branch_main', 'ready')).rejects.toThrow(/check constraint/);
    await expect(insert('d', 'other_db', 'ready')).rejects.toThrow(/check constraint/);
  });
});
