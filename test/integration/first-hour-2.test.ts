import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BIN, runCli } from '../helpers/cli.js';
import { jsonError } from '../helpers/cli-errors.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { type RunningServer, startServer } from '../helpers/server.js';

/**
 * The first hour, round 2 (issue 27): hints that name the right record and command, a past expiry
 * refused, the secret scrubber masking secrets and not words, `ayb history` outside the project.
 * What ayb claims is checked against the server itself (pg_database, the control table).
 */
const PASSWORD = 'first hour round two password';

describe('first hour, round 2', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let dir: string;
  const servers: RunningServer[] = [];

  const cli = (...args: string[]) => runCli(args, { env });
  const databases = async (): Promise<string[]> =>
    (await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_%' ORDER BY 1")).rows.map((r) => r.datname);
  const records = async (): Promise<string[]> =>
    (await cluster.query<{ name: string }>('SELECT name FROM _ayb_branches ORDER BY 1', [], 'app')).rows.map((r) => r.name);

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE t (id int PRIMARY KEY)', [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-first-hour-2-'));
  });
  afterAll(async () => {
    for (const server of servers) await server.stop().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('a name typed with "_" for "-" gets "did you mean", never a hint to drop the live branch (reset, rename, delete, delete --force)', async () => {
    expect((await cli('branch', 'create', 'feature-auth')).exitCode).toBe(0);
    const before = await databases();
    expect(before).toContain('ayb_branch_feature_auth');
    for (const args of [
      ['branch', 'reset', 'feature_auth'],
      ['branch', 'rename', 'feature_auth', 'other'],
      ['branch', 'delete', 'feature_auth', '--yes'],
      ['branch', 'delete', 'feature_auth', '--yes', '--force'],
    ]) {
      const error = jsonError(await cli(...args, '--json'), 3, 'branch_not_found');
      expect(error.message, args.join(' ')).toBe('branch "feature_auth" does not exist');
      expect(error.hint, args.join(' ')).toMatch(/^did you mean feature-auth\?/);
      expect(error.hint, args.join(' ')).not.toMatch(/DROP|drop it/i);
    }
    // Nothing was touched: the same databases and the record of feature-auth.
    expect(await databases()).toEqual(before);
    expect(await records()).toContain('feature-auth');
    // A database no record owns still gets the hint to drop it by hand (ayb never drops it).
    await cluster.query('CREATE DATABASE ayb_branch_handmade');
    const unowned = jsonError(await cli('branch', 'delete', 'handmade', '--yes', '--json'), 3, 'branch_not_found');
    expect(unowned.hint).toMatch(/DROP DATABASE/);
    await cluster.query('DROP DATABASE ayb_branch_handmade');
  });

  it('snapshot delete with children hints "ayb snapshot delete … --with-children", and that command works', async () => {
    expect((await cli('snapshot', 'create', 'seed')).exitCode).toBe(0);
    expect((await cli('branch', 'create', 'from-seed', '--from', 'seed')).exitCode).toBe(0);
    const refused = jsonError(await cli('snapshot', 'delete', 'seed', '--yes', '--json'), 4, 'branch_has_children');
    expect(refused.message).toBe('snapshot "seed" has 1 branch(es) made from it: from-seed');
    const command = /with: ayb (.+)$/.exec(refused.hint!)?.[1];
    expect(command).toBe('snapshot delete seed --with-children --yes');
    expect((await cli(...command!.split(' '))).exitCode).toBe(0);
    expect(await records()).not.toContain('seed');
    expect(await databases()).not.toContain('ayb_snap_seed');
    expect(await databases()).not.toContain('ayb_branch_from_seed');
  });

  it('the API: a 409 for a snapshot with children names ?with_children=true; a past expires_at is a 400 unless allow_past', async () => {
    expect((await cli('snapshot', 'create', 'api-seed')).exitCode).toBe(0);
    expect((await cli('branch', 'create', 'api-child', '--from', 'api-seed')).exitCode).toBe(0);
    const server = await startServer([], { env: { ...env, AYB_ADMIN_PASSWORD: PASSWORD } });
    servers.push(server);
    const token = await server.login(PASSWORD);
    const refused = await server.fetch('/api/admin/snapshots/api-seed', { method: 'DELETE', token });
    const body = (await refused.json()) as { code: string; hint: string };
    expect([refused.status, body.code]).toEqual([409, 'branch_has_children']);
    expect(body.hint).toContain('DELETE /api/admin/snapshots/api-seed?with_children=true');
    expect(body.hint).not.toContain('ayb branch delete');
    const deleted = await server.fetch('/api/admin/snapshots/api-seed?with_children=true', { method: 'DELETE', token });
    expect(deleted.status).toBe(200);
    expect(await databases()).not.toContain('ayb_snap_api_seed');

    const past = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'api-past', expires_at: '2020-01-01' } });
    expect([past.status, ((await past.json()) as { code: string }).code]).toEqual([400, 'expiry_in_past']);
    expect(await records()).not.toContain('api-past');
    const allowed = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'api-past', expires_at: '2020-01-01', allow_past: true } });
    expect(allowed.status).toBe(201);
    await server.stop();
  });

  it('a past --expires-at is refused with exit 2 (nothing made) unless --allow-past', async () => {
    for (const kind of ['branch', 'snapshot']) {
      const error = jsonError(await cli(kind, 'create', `past-${kind}`, '--expires-at', '2020-01-01', '--json'), 2, 'expiry_in_past');
      expect(error.hint).toContain('--allow-past');
      expect(await records()).not.toContain(`past-${kind}`);
    }
    expect(await databases()).not.toContain('ayb_branch_past_branch');
    const allowed = await cli('branch', 'create', 'past-branch', '--expires-at', '2020-01-01', '--allow-past', '--json');
    expect(allowed.exitCode).toBe(0);
    expect(allowed.json()).toMatchObject({ name: 'past-branch', expires_at: '2020-01-01T00:00:00.000Z' });
    expect(jsonError(await cli('branch', 'create', 'no-time', '--allow-past', '--json'), 2, /.*/).message).toMatch(/expires-at/);
  });

  it('the scrubber keeps words that equal a refused secret; a too short admin password is refused', async () => {
    const config = path.join(dir, 'masking.toml');
    await writeFile(config, '[[masking.rules]]\ntable = "t"\ncolumn = "id"\nfunction = "null"\n');
    const short = await runCli(['branch', 'create', 'masked-x', '--masked', '--config', config, '--json'], { env: { ...env, AYB_MASKING_SECRET: 'short' } });
    const error = jsonError(short, 2, 'masking_secret_weak');
    expect(error.message).toBe('the masking secret in AYB_MASKING_SECRET is too short (5 characters; at least 16)');
    const admin = await runCli(['start', '--port', '0', '--json'], { env: { ...env, AYB_ADMIN_PASSWORD: 'admin' } });
    const weak = jsonError(admin, 2, 'admin_password_weak');
    expect(weak.message).toContain('the admin password in AYB_ADMIN_PASSWORD is too short');
  });

  it('ayb history outside the project folder: exit 2 naming the missing ayb.toml, nothing about history being off', async () => {
    const home = path.join(dir, 'home');
    const project = path.join(home, 'project');
    await mkdir(path.join(project, 'sub'), { recursive: true });
    await writeFile(path.join(project, 'ayb.toml'), '[history]\nenabled = true\n');
    for (const args of [['history'], ['history', 'prune'], ['branch', 'create', 'then', '--from', 'main@-1h']]) {
      const result = await runCli([...args, '--json'], { cwd: path.join(project, 'sub'), env: { HOME: home } });
      const error = jsonError(result, 2, 'config_needed');
      expect(error.message).toContain(`no ayb.toml in ${path.join(project, 'sub')}`);
      expect(`${error.message} ${error.hint}`).not.toMatch(/history is off|delete that folder/);
    }
    // Refused before anything started: no managed cluster was made in the home folder.
    expect(existsSync(path.join(home, '.ayb'))).toBe(false);
  });

  it('a snapshot of a branch is "of" the branch by name; prune and delete call snapshots snapshots', async () => {
    expect((await cli('snapshot', 'create', 'auth-snap', '--of', 'feature-auth')).exitCode).toBe(0);
    const show = await cli('snapshot', 'show', 'auth-snap');
    expect(show.stdout).toMatch(/^Of\s+feature-auth$/m);
    const list = await cli('snapshot', 'list');
    expect(list.stdout).toMatch(/^auth-snap\s+ready\s+feature-auth\s/m);
    // Independently: the record's source is the branch's database.
    expect((await cluster.query("SELECT source_database FROM _ayb_branches WHERE name = 'auth-snap'", [], 'app')).rows[0]).toEqual({ source_database: 'ayb_branch_feature_auth' });

    expect((await cli('snapshot', 'create', 'old-snap', '--expires-at', '2020-01-01', '--allow-past')).exitCode).toBe(0);
    const dry = await cli('branch', 'prune', '--dry-run');
    expect(dry.stderr).toMatch(/^Would delete 2 branches and 1 snapshot\./m); // past-branch, api-past, old-snap
    await cluster.query("INSERT INTO _ayb_branches (name, kind, source_database, branch_database, status, error_message) VALUES ('broken-snap', 'snapshot', 'app', 'ayb_snap_broken_snap', 'failed', 'x')", [], 'app');
    const failed = jsonError(await cli('snapshot', 'delete', 'broken-snap', '--yes', '--json'), 4, 'branch_not_ready');
    expect(failed.message).toBe('snapshot "broken-snap" is failed');
  });

  it('completion: one ayb run per TAB, offering only the names the command takes there', async () => {
    // A wrapper named ayb that logs each run, first on PATH; the script from `ayb completion bash`.
    const bin = path.join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    const runs = path.join(dir, 'runs.log');
    await writeFile(path.join(bin, 'ayb'), `#!/bin/sh\necho run >> '${runs}'\nexec '${process.execPath}' '${BIN}' "$@"\n`);
    await chmod(path.join(bin, 'ayb'), 0o755);
    const script = (await cli('completion', 'bash')).stdout;
    const tab = async (...words: string[]): Promise<{ offered: string[]; runs: number }> => {
      await writeFile(runs, '');
      const line = ['ayb', ...words].map((w) => `'${w}'`).join(' ');
      const result = await execa('bash', ['-c', `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length}; _ayb_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], {
        env: { ...env, PATH: `${bin}:${process.env.PATH}` },
        reject: false,
      });
      return { offered: result.stdout.split('\n').filter(Boolean).sort(), runs: (await readFile(runs, 'utf8')).split('\n').filter(Boolean).length };
    };
    // What is there, from the control table itself.
    const rows = (await cluster.query<{ name: string; kind: string }>('SELECT name, kind FROM _ayb_branches ORDER BY name', [], 'app')).rows;
    const branches = rows.filter((r) => r.kind === 'branch').map((r) => r.name);
    const snapshots = rows.filter((r) => r.kind === 'snapshot').map((r) => r.name);
    expect(branches.length).toBeGreaterThan(0);
    expect(snapshots.length).toBeGreaterThan(0);
    expect(await tab('branch', 'delete', '')).toEqual({ offered: [...branches].sort(), runs: 1 });
    expect(await tab('branch', 'url', '')).toEqual({ offered: ['main', ...branches].sort(), runs: 1 });
    expect(await tab('snapshot', 'delete', '')).toEqual({ offered: [...snapshots].sort(), runs: 1 });
    expect(await tab('branch', 'reset', 'feature-auth', '--to', '')).toEqual({ offered: [...snapshots].sort(), runs: 1 });
    // A new name: nothing to offer, and ayb is not run at all.
    expect(await tab('branch', 'create', '')).toEqual({ offered: [], runs: 0 });
  });

  it('help and completion take --json too: one document each', async () => {
    const help = await runCli(['help', '--json']);
    expect(help.exitCode).toBe(0);
    const commands = help.json().commands as { command: string; summary: string }[];
    expect(commands.map((c) => c.command)).toContain('branch create');
    expect(commands.every((c) => c.summary.length > 0)).toBe(true);
    const one = await runCli(['help', 'branch', 'create', '--json']);
    expect(one.json().commands).toEqual([expect.objectContaining({ command: 'branch create', flags: expect.arrayContaining([expect.objectContaining({ name: '--allow-past' })]) })]);
    const completion = await runCli(['completion', 'bash', '--json']);
    expect(completion.exitCode).toBe(0);
    const { shell, script } = completion.json() as { shell: string; script: string };
    expect([shell, script.trimEnd()]).toEqual(['bash', (await runCli(['completion', 'bash'])).stdout]);
  });
});
