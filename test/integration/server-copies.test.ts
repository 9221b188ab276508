import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer, type RunningServer } from '../helpers/server.js';

/**
 * The admin API's copies beyond a plain branch: the data changes of a branch against its parent
 * (GET /api/admin/branches/<name>/data-diff), masked branches and snapshots ("masked", as --masked,
 * and [masking] required), and what a point-in-time source answers on a server without history.
 */
const PASSWORD = 'server copies test password';
const SECRET = 'server-copies-masking-secret-0123';
const RULES = '[masking]\nkeep = ["tags.label"]\n[[masking.rules]]\ntable = "people"\ncolumn = "email"\nfunction = "email"\n';

interface ErrorBody { code: string; message: string; hint?: string }

describe('ayb start: data changes, masked copies, point-in-time sources', () => {
  let cluster: TestCluster;
  let work: string;
  const servers: RunningServer[] = [];
  let plain: RunningServer;
  let plainToken: string;
  const env = () => ({ AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD });

  /** An `ayb start` with this ayb.toml (and the masking secret in its environment when given). */
  async function serverWith(toml: string, extraEnv: Record<string, string> = {}): Promise<{ server: RunningServer; token: string; config: string }> {
    const config = path.join(work, `ayb-${servers.length}.toml`);
    await writeFile(config, toml);
    const server = await startServer(['--config', config], { env: { ...env(), ...extraEnv } });
    servers.push(server);
    return { server, token: await server.login(PASSWORD), config };
  }

  const post = (server: RunningServer, token: string, route: string, json: unknown) => server.fetch(route, { method: 'POST', token, json });
  const expectError = async (response: Response, status: number, code: string): Promise<ErrorBody> => {
    const body = (await response.json()) as ErrorBody;
    expect([response.status, body.code], JSON.stringify(body)).toEqual([status, code]);
    expect(body.message).toEqual(expect.any(String));
    return body;
  };
  const emails = async (database: string) =>
    (await cluster.query<{ email: string }>('SELECT email FROM people ORDER BY id', [], database)).rows.map((r) => r.email);
  const names = async (server: RunningServer, token: string) =>
    ((await (await server.fetch('/api/admin/branches', { token })).json()).branches as { name: string }[]).map((b) => b.name);

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(
      `CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL);
       INSERT INTO people SELECT g, 'person' || g || '@real.example' FROM generate_series(1, 20) g;
       CREATE TABLE tags (label text);
       INSERT INTO tags VALUES ('a'), ('b');
       CREATE TABLE untouched (id int PRIMARY KEY);
       INSERT INTO untouched SELECT generate_series(1, 5);`,
      [],
      'app',
    );
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-server-copies-'));
    ({ server: plain, token: plainToken } = await serverWith(''));
  });
  afterAll(async () => {
    for (const server of servers) expect((await server.stop('SIGTERM')).exitCode).toBe(0);
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('GET /api/admin/branches/<name>/data-diff: per-table counts against the parent, as ayb branch diff --data --json', async () => {
    expect((await post(plain, plainToken, '/api/admin/branches', { name: 'rows' })).status).toBe(201);
    await cluster.query(
      `UPDATE people SET email = 'changed@x.example' WHERE id IN (1, 2);
       DELETE FROM people WHERE id = 3;
       INSERT INTO people VALUES (21, 'new@x.example'), (22, 'new2@x.example'), (23, 'new3@x.example');
       INSERT INTO tags VALUES ('c');`,
      [],
      'ayb_branch_rows',
    );
    const response = await plain.fetch('/api/admin/branches/rows/data-diff', { token: plainToken });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.from).toBe('main');
    expect(body.to).toBe('rows');
    expect(body.only_in_from).toEqual([]);
    expect(body.only_in_to).toEqual([]);
    expect(body.tables).toEqual([
      { table: 'public.people', schema: 'public', name: 'people', key: ['id'], match: 'primary_key', added: 3, removed: 1, changed: 2 },
      { table: 'public.tags', schema: 'public', name: 'tags', key: null, match: 'rows', added: 1, removed: 0, changed: 0 },
      { table: 'public.untouched', schema: 'public', name: 'untouched', key: ['id'], match: 'primary_key', added: 0, removed: 0, changed: 0 },
    ]);
    // The CLI's records, table for table (without example keys unless ?limit asks for them).
    const cli = await runCli(['branch', 'diff', 'main', 'rows', '--data', '--json', '--limit', '0'], { env: env() });
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(body.tables).toEqual(cli.json());
    const withExamples = await (await plain.fetch('/api/admin/branches/rows/data-diff?limit=2', { token: plainToken })).json();
    expect(withExamples.tables[0].examples).toEqual({ added: [{ id: '21' }, { id: '22' }], removed: [{ id: '3' }], changed: [{ id: '1' }, { id: '2' }] });
    await expectError(await plain.fetch('/api/admin/branches/rows/data-diff?limit=lots', { token: plainToken }), 400, 'invalid_query');
    expect((await plain.fetch('/api/admin/branches/rows/data-diff')).status).toBe(401);
  });

  it('compares a branch of a branch with that branch, and a branch of a snapshot with the snapshot (through a throwaway copy)', async () => {
    expect((await post(plain, plainToken, '/api/admin/branches', { name: 'rows-child', from: 'rows' })).status).toBe(201);
    await cluster.query("DELETE FROM tags WHERE label = 'c'", [], 'ayb_branch_rows_child');
    const child = await (await plain.fetch('/api/admin/branches/rows-child/data-diff', { token: plainToken })).json();
    expect(child.from).toBe('rows');
    expect(child.tables.filter((t: { added: number; removed: number; changed: number }) => t.added + t.removed + t.changed > 0))
      .toEqual([{ table: 'public.tags', schema: 'public', name: 'tags', key: null, match: 'rows', added: 0, removed: 1, changed: 0 }]);

    expect((await post(plain, plainToken, '/api/admin/snapshots', { name: 'frozen', of: 'rows' })).status).toBe(201);
    expect((await post(plain, plainToken, '/api/admin/branches', { name: 'of-frozen', from: 'frozen' })).status).toBe(201);
    await cluster.query('DELETE FROM untouched WHERE id > 3', [], 'ayb_branch_of_frozen');
    const fromSnapshot = await (await plain.fetch('/api/admin/branches/of-frozen/data-diff', { token: plainToken })).json();
    expect(fromSnapshot.from).toBe('frozen');
    expect(fromSnapshot.tables.find((t: { table: string }) => t.table === 'public.untouched')).toMatchObject({ added: 0, removed: 2, changed: 0 });
    expect(fromSnapshot.tables.find((t: { table: string }) => t.table === 'public.people')).toMatchObject({ added: 0, removed: 0, changed: 0 });
    // The CLI reads a snapshot side the same way: frozen was taken of rows, unchanged since.
    const cli = await runCli(['branch', 'diff', 'rows', 'frozen', '--data', '--exit-code'], { env: env() });
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('No data differences between rows and frozen');
    // The copies it read are gone, and the snapshot still refuses connections.
    const left = await cluster.query<{ datname: string; datallowconn: boolean }>("SELECT datname, datallowconn FROM pg_database WHERE datname LIKE 'ayb\\_view\\_%' OR datname = 'ayb_snap_frozen'", [], 'postgres');
    expect(left.rows).toEqual([{ datname: 'ayb_snap_frozen', datallowconn: false }]);
  });

  it('answers clearly when there is nothing to compare with: a snapshot, no such branch, no parent here, a parent gone', async () => {
    const diff = (name: string) => plain.fetch(`/api/admin/branches/${name}/data-diff`, { token: plainToken });
    expect((await expectError(await diff('frozen'), 409, 'snapshot_immutable')).hint).toContain('ayb branch diff main frozen --data');
    expect((await expectError(await diff('rowz'), 404, 'branch_not_found')).hint).toContain('did you mean rows?');
    await expectError(await diff('Bad'), 400, 'invalid_name');

    // Copied from a URL: its source is another database, not a parent here.
    const copied = await runCli(['branch', 'create', 'from-url', '--from', cluster.url('app'), '--json'], { env: env() });
    expect(copied.exitCode, copied.stderr).toBe(0);
    expect((await expectError(await diff('from-url'), 409, 'no_parent')).hint).toContain('ayb branch diff main from-url --data');

    // A parent that no longer exists (its record removed behind ayb's back: delete refuses a parent with children).
    expect((await post(plain, plainToken, '/api/admin/branches', { name: 'orphan', from: 'of-frozen' })).status).toBe(201);
    await cluster.query("DELETE FROM _ayb_branches WHERE name = 'of-frozen'", [], 'app');
    await cluster.query('DROP DATABASE ayb_branch_of_frozen', [], 'postgres');
    const gone = await expectError(await diff('orphan'), 404, 'parent_not_found');
    expect(gone.message).toContain('"of-frozen"');
  });

  it('POST "masked": true masks the copy; without rules it is refused (400) and nothing is recorded', async () => {
    await expectError(await post(plain, plainToken, '/api/admin/branches', { name: 'no-rules', masked: true }), 400, 'masking_no_rules');
    await expectError(await post(plain, plainToken, '/api/admin/branches', { name: 'no-rules', masked: 'yes' }), 400, 'invalid_body');
    expect(await names(plain, plainToken)).not.toContain('no-rules');

    const { server, token } = await serverWith(RULES, { AYB_MASKING_SECRET: SECRET });
    const created = await post(server, token, '/api/admin/branches', { name: 'masked-dev', masked: true });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: 'masked-dev', status: 'ready', masked: true });
    const masked = await emails('ayb_branch_masked_dev');
    expect(masked).toHaveLength(20);
    expect(masked.filter((e) => e.endsWith('@real.example'))).toEqual([]);
    // Shown as masked in the list and the record, as by the CLI.
    expect(await (await server.fetch('/api/admin/branches/masked-dev', { token })).json()).toMatchObject({ masked: true });
    const listed = (await (await server.fetch('/api/admin/branches', { token })).json()).branches;
    expect(listed.find((b: { name: string }) => b.name === 'masked-dev')).toMatchObject({ masked: true });
    expect((await runCli(['branch', 'show', 'masked-dev', '--json'], { env: env() })).json()).toMatchObject({ masked: true });
    // Unmasked unless asked.
    expect(await (await post(server, token, '/api/admin/branches', { name: 'plain-dev' })).json()).toMatchObject({ masked: false });
    expect((await emails('ayb_branch_plain_dev'))[0]).toBe('person1@real.example');

    const snapshot = await post(server, token, '/api/admin/snapshots', { name: 'masked-snap', masked: true });
    expect(snapshot.status).toBe(201);
    expect(await snapshot.json()).toMatchObject({ kind: 'snapshot', masked: true });
  });

  it('[masking] required masks every copy made through the API, and refuses "masked": false', async () => {
    const { server, token } = await serverWith(RULES.replace('[masking]\n', '[masking]\nrequired = true\n'), { AYB_MASKING_SECRET: SECRET });
    const created = await post(server, token, '/api/admin/branches', { name: 'required-dev' });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ masked: true });
    expect((await emails('ayb_branch_required_dev')).filter((e) => e.endsWith('@real.example'))).toEqual([]);
    const refused = await expectError(await post(server, token, '/api/admin/branches', { name: 'unmasked', masked: false }), 400, 'masking_required');
    expect(refused.hint).toMatch(/leave out "masked"/);
    await expectError(await post(server, token, '/api/admin/snapshots', { name: 'unmasked', masked: false }), 400, 'masking_required');
    expect(await names(server, token)).not.toContain('unmasked');
  });

  it('a point-in-time source on a server without ayb\'s history: 400 with the reason, as the CLI\'s exit 2', async () => {
    const refused = await expectError(await post(plain, plainToken, '/api/admin/branches', { name: 'past', from: 'main@-1h' }), 400, 'history_unavailable');
    expect(refused.hint).toMatch(/\[history\] enabled = true/);
    await expectError(await post(plain, plainToken, '/api/admin/snapshots', { name: 'past', of: 'main@-1h' }), 400, 'history_unavailable');
    await expectError(await post(plain, plainToken, '/api/admin/branches', { name: 'past', from: 'main@yesterday' }), 400, 'invalid_point_in_time');
    await expectError(await post(plain, plainToken, '/api/admin/branches', { name: 'past', from: 'rows@-1h' }), 400, 'invalid_point_in_time');
    expect(await names(plain, plainToken)).not.toContain('past');
  });

  it('point-in-time requests leave nothing attached to the server\'s stop signal (no listener leak)', async () => {
    // Each request waits for its turn on the server-wide signal; a listener left behind per request
    // piles up for the server's life, and Node warns once there are more than 10.
    for (let i = 0; i < 12; i++) {
      await expectError(await post(plain, plainToken, '/api/admin/branches', { name: `past-${i}`, from: 'main@-1h' }), 400, 'history_unavailable');
    }
    expect(plain.stderr()).not.toMatch(/MaxListenersExceededWarning|memory leak/);
  });
});
