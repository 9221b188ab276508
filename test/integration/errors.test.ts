import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { jsonError, textError } from '../helpers/cli-errors.js';
import { branchDatabases } from '../helpers/clone-probes.js';
import { freePort, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { type FakeTools, fakeTools } from '../helpers/fake-tools.js';

describe('errors a user can act on', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let serverVersion: string;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1)", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    serverVersion = (await cluster.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version.split(' ')[0]!;
  });
  afterAll(async () => {
    await Promise.all(cleanups.map((fn) => fn()));
    await cluster?.stop();
  });

  async function tools(...args: Parameters<typeof fakeTools>): Promise<FakeTools> {
    const made = await fakeTools(...args);
    cleanups.push(made.remove);
    return made;
  }

  describe('connections', () => {
    it('unreachable server: exit 5, names host:port, for list and create alike', async () => {
      const port = await freePort();
      const down = { AYB_DATABASE_URL: `postgres://ayb:pw@127.0.0.1:${port}/app` };
      const list = jsonError(await runCli(['branch', 'list', '--json'], { env: down }), 5, 'connection_failed');
      expect(list.message).toContain(`127.0.0.1:${port}`);
      expect(list.hint).toMatch(/server is running/);
      textError(await runCli(['branch', 'create', 'x'], { env: down }), 5, new RegExp(`^Error: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}: `, 'm'));
    });

    it('unreachable source server: exit 5 naming it, nothing left behind', async () => {
      const port = await freePort();
      const error = jsonError(
        await runCli(['branch', 'create', 'far', '--from', `postgres://ayb@127.0.0.1:${port}/app`, '--json'], { env }),
        5,
        'connection_failed',
      );
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(await branchDatabases(cluster)).toEqual([]);
    });
  });

  describe('client tools', () => {
    it('pg_dump missing: exit 5, names pg_dump and how to install it', async () => {
      const noDump = await tools({ psql: { kind: 'logged' } });
      const error = jsonError(await runCli(['branch', 'create', 'no-dump', '--strategy', 'dump', '--config', noDump.configFile, '--json'], { env }), 5, 'tool_missing');
      expect(error.message).toBe(`pg_dump was not found in ${noDump.dir}`);
      expect(error.hint).toMatch(/apt-get install postgresql-client/);
      expect(error.hint).toMatch(/pg_bin_dir/);
      expect(await branchDatabases(cluster)).toEqual([]);
    });

    it('psql missing: exit 5, names psql', async () => {
      const noPsql = await tools({ pg_dump: { kind: 'logged' } });
      const result = await runCli(['branch', 'create', 'no-psql', '--strategy', 'dump', '--config', noPsql.configFile], { env });
      textError(result, 5, new RegExp(`^Error: psql was not found in ${noPsql.dir}$`, 'm'));
      expect(result.stderr).toMatch(/^Hint: install the PostgreSQL client tools/m);
      expect(await branchDatabases(cluster)).toEqual([]);
    });

    it('pg_dump older than the server: exit 5, says both versions', async () => {
      const old = await tools({ pg_dump: { kind: 'version', version: '12.0' }, psql: { kind: 'logged' } });
      const error = jsonError(await runCli(['branch', 'create', 'old-dump', '--strategy', 'dump', '--config', old.configFile, '--json'], { env }), 5, 'tool_version_mismatch');
      expect(error.message).toContain('pg_dump 12.0');
      expect(error.message).toContain(`PostgreSQL ${serverVersion}`);
      expect(error.hint).toMatch(/postgresql-client-15/);
      expect(await branchDatabases(cluster)).toEqual([]);
    });

    it('a missing pg_dump does not matter when the template strategy needs none', async () => {
      const none = await tools({});
      const result = await runCli(['branch', 'create', 'no-tools', '--strategy', 'template', '--config', none.configFile, '--json'], { env });
      expect(result.exitCode).toBe(0);
      expect(result.json()).toMatchObject({ name: 'no-tools', status: 'ready', strategy: 'template' });
      expect((await runCli(['branch', 'delete', 'no-tools', '--yes'], { env })).exitCode).toBe(0);
    });
  });

  describe('sources', () => {
    it.each([['auto'], ['dump']])('a source database that does not exist: exit 3 (--strategy %s)', async (strategy) => {
      const url = cluster.url('nosuchdb');
      const error = jsonError(await runCli(['branch', 'create', `gone-${strategy}`, '--from', url, '--strategy', strategy, '--json'], { env }), 3, 'source_not_found');
      expect(error.message).toBe('source database "nosuchdb" does not exist');
      expect(await branchDatabases(cluster)).toEqual([]);
    });

    it('a source branch that does not exist: exit 3', async () => {
      const error = jsonError(await runCli(['branch', 'create', 'child', '--from', 'nosuchbranch', '--json'], { env }), 3, 'source_not_found');
      expect(error.message).toBe('source branch "nosuchbranch" does not exist');
      textError(await runCli(['branch', 'create', 'child', '--from', 'nosuchbranch'], { env }), 3, /^Hint: .*ayb branch list/m);
    });
  });

  describe('names', () => {
    const invalid: [string, RegExp][] = [
      ['Feature', /uppercase/],
      ['-lead', /must start and end with a lowercase letter or digit/],
      ['trail_', /must start and end with a lowercase letter or digit/],
      ['has space', /contains " "/],
      ['dot.ted', /contains "\."/],
      ['ünï', /contains "ü"/],
      ['a'.repeat(53), /is 53 characters long; the limit is 52/],
      ...['main', 'master', 'default', 'postgres', 'template0', 'template1'].map((n): [string, RegExp] => [n, /reserved name/]),
    ];

    it('invalid names are usage errors (exit 2) saying which rule they break', async () => {
      // "--" so that "-lead" reaches the name check instead of the flag parser.
      const results = await Promise.all(invalid.map(([name]) => runCli(['branch', 'create', '--json', '--', name], { env })));
      results.forEach((result, i) => {
        const error = jsonError(result, 2, 'invalid_name');
        expect(error.message).toMatch(invalid[i]![1]);
      });
      textError(await runCli(['branch', 'create', 'main'], { env }), 2, /^Error: "main" is a reserved name/m);
      expect(await branchDatabases(cluster)).toEqual([]);
    });

    it('52 characters is fine', async () => {
      const name = 'b'.repeat(52);
      const result = await runCli(['branch', 'create', name, '--json'], { env });
      expect(result.exitCode).toBe(0);
      expect(result.json().branch_database).toBe(`ayb_branch_${name}`);
      expect((await runCli(['branch', 'delete', name, '--yes'], { env })).exitCode).toBe(0);
    });

    it('"a-b" after "a_b" is a collision (exit 4) naming both', async () => {
      expect((await runCli(['branch', 'create', 'a_b'], { env })).exitCode).toBe(0);
      const error = jsonError(await runCli(['branch', 'create', 'a-b', '--json'], { env }), 4, 'name_collision');
      expect(error.message).toBe('branch "a-b" would use database "ayb_branch_a_b", which branch "a_b" already uses');
      const again = jsonError(await runCli(['branch', 'create', 'a_b', '--json'], { env }), 4, 'branch_exists');
      expect(again.message).toBe('branch "a_b" already exists (status: ready)');
      expect(again.hint).toMatch(/ayb branch delete a_b --yes/);
      expect((await runCli(['branch', 'delete', 'a_b', '--yes'], { env })).exitCode).toBe(0);
    });
  });

  describe('databases ayb did not make', () => {
    beforeAll(async () => {
      await cluster.createDatabase('ayb_branch_x');
      await cluster.query('CREATE TABLE precious (id int); INSERT INTO precious VALUES (42)', [], 'ayb_branch_x');
    });

    async function expectUntouched(): Promise<void> {
      const { rows } = await cluster.query('SELECT id FROM precious', [], 'ayb_branch_x');
      expect(rows).toEqual([{ id: 42 }]);
    }

    it('create refuses a name whose database exists unregistered (exit 4) and leaves it alone', async () => {
      for (const strategy of ['auto', 'dump']) {
        const error = jsonError(await runCli(['branch', 'create', 'x', '--strategy', strategy, '--json'], { env }), 4, 'database_exists');
        expect(error.message).toBe('database "ayb_branch_x" already exists but was not created by ayb');
      }
      await expectUntouched();
      const { rows } = await cluster.query("SELECT status FROM _ayb_branches WHERE name = 'x'", [], 'app');
      expect(rows).toEqual([]);
    });

    it('delete never drops it, whatever the flags', async () => {
      const error = jsonError(await runCli(['branch', 'delete', 'x', '--yes', '--force', '--json'], { env }), 3, 'branch_not_found');
      expect(error.message).toBe('branch "x" is not registered, though a database "ayb_branch_x" exists');
      const ifExists = await runCli(['branch', 'delete', 'x', '--yes', '--force', '--if-exists', '--json'], { env });
      expect(ifExists.exitCode).toBe(0);
      expect(ifExists.json()).toMatchObject({ deleted: false });
      await expectUntouched();
    });
  });

  describe('config', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-config-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
    });

    it('a --config file that does not exist: exit 3', async () => {
      const missing = path.join(dir, 'nope.toml');
      const error = jsonError(await runCli(['branch', 'list', '--config', missing, '--json'], { env }), 3, 'config_not_found');
      expect(error.message).toBe(`config file ${missing} does not exist`);
    });

    it('invalid TOML: exit 2 naming the file', async () => {
      const file = path.join(dir, 'broken.toml');
      await writeFile(file, '[database\nurl = 1\n');
      const error = jsonError(await runCli(['branch', 'list', '--config', file, '--json'], { env }), 2, 'invalid_config');
      expect(error.message).toMatch(new RegExp(`^invalid TOML in ${file}`));
    });

    it('unknown keys and wrong types: exit 2, every problem reported with its key', async () => {
      const file = path.join(dir, 'wrong.toml');
      await writeFile(file, '[database]\nbogus = 1\n[tools]\npg_bin_dir = 3\n[managed_pg]\nport = "x"\n[nosection]\na = 1\n');
      const error = jsonError(await runCli(['branch', 'list', '--config', file, '--json'], { env }), 2, 'invalid_config');
      const problems = error.problems as string[];
      expect(problems).toHaveLength(4);
      for (const key of ['database.bogus', 'tools.pg_bin_dir', 'managed_pg.port', 'nosection']) {
        expect(problems.some((p) => p.includes(key)), `${key} in ${problems.join('; ')}`).toBe(true);
        expect(error.message).toContain(key);
      }
      textError(await runCli(['branch', 'list', '--config', file], { env }), 2, /^Error: invalid config in .*database\.bogus/m);
    });
  });

  describe('usage', () => {
    it.each([
      [['branch', 'create', 'x', '--bogus'], /^unknown flag: --bogus$/],
      [['branch', 'create'], /^missing required argument: <name>$/],
      [['branch', 'create', 'x', '--strategy', 'sideways'], /--strategy=sideways to be one of: auto, template, dump/],
      [['branch', 'show', 'a', 'b'], /^unexpected argument: b$/],
      [['branch', 'list', 'extra-arg'], /^unexpected argument: extra-arg$/],
      [['branch', 'expire', 'x', '--never', '--ttl', '1d'], /^--never and --ttl cannot be used together$/],
      [['branch', 'create', 'x', '--ttl', '1d', '--never-expires'], /^--never-expires and --ttl cannot be used together$/],
      [['branch', 'delete', 'x'], /without confirmation/],
    ])('%j: exit 2, one JSON document with --json', async (args, message) => {
      const error = jsonError(await runCli([...args, '--json'], { env }), 2, /^(usage|unknown_flag|unexpected_argument|confirmation_required)$/);
      expect(error.message).toMatch(message);
      const plain = await runCli(args, { env });
      textError(plain, 2, /^Hint: /m);
    });
  });
});
