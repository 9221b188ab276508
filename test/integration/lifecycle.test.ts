import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { runCli } from '../helpers/cli.js';

describe('branch lifecycle (create, list, show, url, delete)', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL); INSERT INTO items (label) VALUES ('one'), ('two')", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('lists [] when there are no branches', async () => {
    const result = await runCli(['branch', 'list', '--json'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.json()).toEqual([]);
  });

  it('creates, shows, lists, prints the URL of, and deletes a branch', async () => {
    const created = await runCli(['branch', 'create', 'feature-x', '--json'], { env });
    expect(created.stderr).toBe('');
    expect(created.exitCode).toBe(0);
    const record = created.json();
    expect(record).toMatchObject({
      name: 'feature-x',
      source_database: 'app',
      branch_database: 'ayb_branch_feature_x',
      status: 'ready',
    });
    expect(['template', 'dump']).toContain(record.strategy);
    expect(Date.parse(record.created_at)).not.toBeNaN();
    expect(record).not.toHaveProperty('error_message');

    const shown = await runCli(['branch', 'show', 'feature-x', '--json'], { env });
    expect(shown.exitCode).toBe(0);
    expect(shown.json().url).toContain('********');
    expect(shown.json().url).not.toContain(cluster.conn.password!);
    expect(shown.json().size_bytes).toBeGreaterThan(0);

    const url = await runCli(['branch', 'url', 'feature-x'], { env });
    expect(url.exitCode).toBe(0);
    expect(url.stdout.trim()).toMatch(/^postgres:\/\/ayb:.+@127\.0\.0\.1:\d+\/ayb_branch_feature_x$/);
    const rows = await cluster.query('SELECT label FROM items ORDER BY id', [], 'ayb_branch_feature_x');
    expect(rows.rows.map((r) => r.label)).toEqual(['one', 'two']);

    const list = await runCli(['branch', 'list', '--json'], { env });
    expect(list.json().map((b: { name: string }) => b.name)).toEqual(['feature-x']);

    const refused = await runCli(['branch', 'delete', 'feature-x'], { env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);

    const deleted = await runCli(['branch', 'delete', 'feature-x', '--yes', '--json'], { env });
    expect(deleted.exitCode).toBe(0);
    expect(deleted.json()).toEqual({ name: 'feature-x', branch_database: 'ayb_branch_feature_x', deleted: true });
    const gone = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_feature_x'");
    expect(gone.rowCount).toBe(0);
    expect((await runCli(['branch', 'list', '--json'], { env })).json()).toEqual([]);
  });

  it('reports a missing branch with exit 3, as JSON when asked', async () => {
    const result = await runCli(['branch', 'show', 'nope', '--json'], { env });
    expect(result.exitCode).toBe(3);
    expect(result.json()).toMatchObject({ error: { code: 'branch_not_found', exit_code: 3 } });
    const plain = await runCli(['branch', 'show', 'nope'], { env });
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(/^Error: branch "nope" does not exist\nHint: /);
  });
});
