import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT, runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * `ayb mcp`, driven by the MCP SDK's own client over stdio (the built CLI, spawned as an agent's
 * client would): tools named after the CLI commands, answering with their --json documents and
 * errors; judged by the server's catalogs, queries of our own, and the CLI's output.
 */
describe('ayb mcp', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let client: Client;

  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = (await client.callTool({ name, arguments: args })) as { content: { type: string; text: string }[]; isError?: boolean };
    return { isError: result.isError === true, json: JSON.parse(result.content[0]!.text) };
  };
  const count = async (database: string) => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], database)).rows[0]!.n;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY, note text)', [], 'app');
    await cluster.query("INSERT INTO items SELECT g, 'seed ' || g FROM generate_series(1, 3) g", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('AYB_') && !e[0].startsWith('PG')));
    client = new Client({ name: 'ayb-test-agent', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: 'node', args: [BIN, 'mcp'], cwd: REPO_ROOT, env: { ...inherited, ...env, NO_COLOR: '1' }, stderr: 'ignore' }));
  });
  afterAll(async () => {
    await client?.close();
    await cluster?.stop();
  });

  it('lists the branch tools, named after the CLI commands', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'branch_create', 'branch_delete', 'branch_diff', 'branch_list', 'branch_merge', 'branch_reset', 'branch_url',
      'snapshot_create', 'snapshot_delete', 'snapshot_list',
    ]);
    const create = tools.find((t) => t.name === 'branch_create')!;
    expect(Object.keys(create.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['name', 'from', 'strategy', 'ttl', 'keep_base']));
    expect(create.inputSchema.required).toEqual(['name']);
  });

  it('an agent branches, writes through the URL, diffs, merges after a dry run, resets and deletes', async () => {
    const created = await call('branch_create', { name: 'agent-1', keep_base: true });
    expect(created.isError, JSON.stringify(created.json)).toBe(false);
    expect(created.json).toMatchObject({ name: 'agent-1', status: 'ready', parent: 'agent-1-base', snapshot: 'agent-1-base' });
    // The same document as the CLI shows for it.
    expect((await runCli(['branch', 'show', 'agent-1', '--json'], { env })).json()).toMatchObject({ ...created.json, updated_at: expect.any(String), size_bytes: expect.any(Number) });

    const url = await call('branch_url', { name: 'agent-1' });
    expect(url.json).toEqual((await runCli(['branch', 'url', 'agent-1', '--json'], { env })).json());
    const db = new pg.Client({ connectionString: url.json.url });
    await db.connect();
    await db.query("INSERT INTO items VALUES (10, 'from the agent')");
    await db.end();

    const diff = await call('branch_diff', { from: 'main', to: 'agent-1', data: true });
    expect(diff.json).toEqual((await runCli(['branch', 'diff', 'main', 'agent-1', '--data', '--json'], { env })).json());
    expect(diff.json).toEqual([expect.objectContaining({ table: 'public.items', added: 1 })]);
    const schemaDiff = await call('branch_diff', { from: 'main', to: 'agent-1' });
    expect(schemaDiff.json).toEqual([]);

    // The merge is a dry run unless asked otherwise: main is untouched.
    const plan = await call('branch_merge', { branch: 'agent-1' });
    expect(plan.json).toMatchObject({ branch: 'agent-1', into: 'main', dry_run: true, applied: false, conflicts: [] });
    expect(plan.json.sql).toContain('INSERT INTO');
    expect(await count('app')).toBe(3);
    const merged = await call('branch_merge', { branch: 'agent-1', dry_run: false });
    expect(merged.json).toMatchObject({ dry_run: false, applied: true });
    expect((await cluster.query('SELECT note FROM items WHERE id = 10', [], 'app')).rows).toEqual([{ note: 'from the agent' }]);

    const snap = await call('snapshot_create', { name: 'agent-snap', of: 'agent-1' });
    expect(snap.json).toMatchObject({ name: 'agent-snap', kind: 'snapshot', status: 'ready' });
    const child = await call('branch_create', { name: 'agent-2', from: 'agent-snap' });
    expect(child.json).toMatchObject({ name: 'agent-2', parent: 'agent-snap', strategy: 'template' });
    await cluster.query('DELETE FROM items', [], 'ayb_branch_agent_2');
    const reset = await call('branch_reset', { name: 'agent-2' });
    expect(reset.json).toMatchObject({ name: 'agent-2', status: 'ready' });
    expect(await count('ayb_branch_agent_2')).toBe(4);

    const listed = await call('branch_list');
    expect(listed.json).toEqual((await runCli(['branch', 'list', '--json'], { env })).json());

    // The merge froze agent-1 as its merge record (its base from then on): a snapshot the branch owns.
    const records = (await call('snapshot_list')).json as { name: string }[];
    const record = records.map((r) => r.name).find((n) => /^agent-1-merged-\d+$/.test(n));
    expect(record).toBeDefined();
    for (const [tool, name] of [['branch_delete', 'agent-2'], ['snapshot_delete', 'agent-snap'], ['branch_delete', 'agent-1'], ['snapshot_delete', 'agent-1-base']] as const) {
      const deleted = await call(tool, { name, yes: true });
      expect(deleted.json, tool).toMatchObject({ name, deleted: true });
      // Deleting the branch deletes its merge record too, and says so.
      if (name === 'agent-1') expect(deleted.json).toMatchObject({ deleted_merge_record: record });
    }
    const { rows } = await cluster.query("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_%'", [], 'postgres');
    expect(rows).toEqual([]);
    expect((await call('snapshot_list')).json).toEqual([]);
  });

  it('fails as the CLI does: the same codes, messages and --json error documents', async () => {
    const missing = await call('branch_url', { name: 'no-such' });
    expect(missing.isError).toBe(true);
    const cliMissing = await runCli(['branch', 'url', 'no-such', '--json'], { env });
    expect(missing.json).toEqual(cliMissing.json());
    expect(missing.json.error.exit_code).toBe(cliMissing.exitCode);

    const badName = await call('branch_create', { name: 'Bad Name' });
    expect(badName.json).toEqual((await runCli(['branch', 'create', 'Bad Name', '--json'], { env })).json());

    // A delete without yes is refused, as the CLI refuses one without --yes where it cannot ask.
    expect((await call('branch_create', { name: 'keep-me' })).isError).toBe(false);
    const unconfirmed = await call('branch_delete', { name: 'keep-me' });
    const cliUnconfirmed = (await runCli(['branch', 'delete', 'keep-me', '--json'], { env })).json();
    expect(unconfirmed.isError).toBe(true);
    expect({ ...unconfirmed.json.error, hint: undefined }).toEqual({ ...cliUnconfirmed.error, hint: undefined });
    expect((await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_keep_me'", [], 'postgres')).rowCount).toBe(1);
  });
});
