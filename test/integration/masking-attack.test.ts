import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../src/postgres/client.js';
import { withDatabase } from '../../src/postgres/conninfo.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { runCli } from '../helpers/cli.js';
import { jsonError } from '../helpers/cli-errors.js';
import { COPY_FILES, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { libpqEnv } from '../helpers/pagila.js';

/**
 * An outsider's attack on masked copies: schemas that carry original values where the masking
 * does not look, judged with SQL written here, pg_dump's output of the copy and the copy's
 * relation files, never with ayb's own view. Every original value contains "zorabel",
 * "quillfeather" or "leaky.example"; no masked value can.
 */
const rule = (table: string, column: string, fn: string) => `\n[[masking.rules]]\ntable = "${table}"\ncolumn = "${column}"\nfunction = "${fn}"\n`;
const SECRET = 'attack-masking-secret-0123456789';
const MARKERS = ['zorabel', 'quillfeather', 'leaky.example'];

const BASE = `
CREATE TABLE customers (id int PRIMARY KEY, full_name text NOT NULL, email text NOT NULL UNIQUE);
INSERT INTO customers SELECT g, 'Zorabel' || g || ' Quillfeather' || g, 'zora.quill' || g || '@leaky.example' FROM generate_series(1, 50) g;
`;

const RULES = `[masking]
keep = ["customer_audit.*", "contacts.*"]

[[masking.rules]]
table = "customers"
column = "full_name"
function = "name"

[[masking.rules]]
table = "customers"
column = "email"
function = "email"
`;

describe('masking attack', () => {
  let cluster: TestCluster;
  let dir: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli([...args, '--config', path.join(dir, 'ayb.toml')], { env });
  const q = async <T extends Record<string, unknown>>(sql: string, database: string) => (await cluster.query<T>(sql, [], database)).rows;

  /** Lines of pg_dump's output of `database` that hold a marker. */
  async function inDump(database: string): Promise<string[]> {
    const dump = await execa('pg_dump', ['--no-owner', database], { env: libpqEnv(cluster, database) });
    return dump.stdout.split('\n').filter((l) => MARKERS.some((m) => l.toLowerCase().includes(m)));
  }

  /** Relation files of `database` holding a marker (after a checkpoint). */
  async function onDisk(database: string): Promise<string[]> {
    await cluster.query('CHECKPOINT', [], 'postgres');
    const [{ oid }] = await q<{ oid: number }>(`SELECT oid FROM pg_database WHERE datname = '${database}'`, 'postgres');
    const folder = path.join(cluster.dataDir, 'base', String(oid));
    const out: string[] = [];
    for (const f of await readdir(folder)) {
      const b = (await readFile(path.join(folder, f))).toString('latin1').toLowerCase();
      if (MARKERS.some((m) => b.includes(m))) out.push(f);
    }
    return out;
  }

  const fromArgs = (where: string) => (where === 'in place' ? [] : ['--from', cluster.url('app').replace('127.0.0.1', 'localhost')]);
  const databaseExists = async (name: string) => (await q(`SELECT 1 FROM pg_database WHERE datname = '${name}'`, 'postgres')).length > 0;

  /**
   * Main `app` as a case starts it: the databases of the case before dropped, `app` copied from
   * `app_base` (BASE, made once in beforeAll), then `extra` run in it. One session for the drops
   * and the copy, one for `extra`.
   */
  async function fresh(extra: string) {
    await writeFile(path.join(dir, 'ayb.toml'), RULES);
    const client = new pg.Client(clientConfig(withDatabase(cluster.conn, 'postgres')));
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = 'app' OR datname LIKE 'ayb\\_%'");
      for (const { datname } of rows) await client.query(`DROP DATABASE ${quoteIdent(datname)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE app TEMPLATE app_base ${COPY_FILES}`);
    } finally {
      await client.end();
    }
    if (extra.trim()) await cluster.query(extra, [], 'app');
  }

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app_base');
    await cluster.query(BASE, [], 'app_base');
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-mask-attack-'));
    await writeFile(path.join(dir, 'ayb.toml'), RULES);
    env = { AYB_DATABASE_URL: cluster.url('app'), AYB_MASKING_SECRET: SECRET };
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Catalog entries and kept columns that carry originals: the copy must be refused (exit 5) and dropped. */
  const leaks: Record<string, { sql: string; place: RegExp; stream?: boolean }> = {
    'an AFTER INSERT trigger copied names into a kept audit table': {
      sql: `CREATE TABLE customer_audit (id serial PRIMARY KEY, who text);
        CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO customer_audit (who) VALUES (NEW.full_name); RETURN NEW; END $$;
        CREATE TRIGGER audit AFTER INSERT ON customers FOR EACH ROW EXECUTE FUNCTION audit();
        INSERT INTO customers VALUES (100, 'Zorabel100 Quillfeather100', 'zora.quill100@leaky.example');`,
      place: /public\.customer_audit\.who/,
      stream: true,
    },
    'a kept text[] and nested jsonb hold emails': {
      sql: `CREATE TABLE contacts (id int PRIMARY KEY, emails text[], doc jsonb);
        INSERT INTO contacts SELECT id, ARRAY[email], jsonb_build_object('a', jsonb_build_object('b', email)) FROM customers;`,
      place: /public\.contacts\.emails.*public\.contacts\.doc/,
      stream: true,
    },
    'a rule (CREATE RULE) holds an email literal': {
      sql: `CREATE TABLE t_rule (id int); CREATE RULE r AS ON UPDATE TO customers WHERE new.email = 'zora.quill2@leaky.example' DO ALSO INSERT INTO t_rule VALUES (1);`,
      place: /rule r on customers/,
    },
    'a partial index predicate holds an email literal': {
      sql: `CREATE INDEX partial ON customers (id) WHERE email <> 'zora.quill3@leaky.example';`,
      place: /index partial/,
    },
    'a row-level security policy holds an email literal': {
      sql: `CREATE POLICY p ON customers USING (email <> 'zora.quill4@leaky.example');`,
      place: /policy p on customers/,
      stream: true,
    },
    'a trigger WHEN condition holds an email literal': {
      sql: `CREATE FUNCTION nop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER w BEFORE UPDATE ON customers FOR EACH ROW WHEN (NEW.email = 'zora.quill5@leaky.example') EXECUTE FUNCTION nop();`,
      place: /trigger w on customers/,
    },
    'an enum label is a customer name': {
      sql: `CREATE TYPE vip AS ENUM ('Zorabel6 Quillfeather6');`,
      place: /enum label of vip/,
    },
  };

  for (const [name, { sql, place, stream }] of Object.entries(leaks)) {
    for (const where of stream ? (['in place', 'in the stream'] as const) : (['in place'] as const)) {
      it(`refused (exit 5) ${where}: ${name}`, async () => {
        await fresh(sql);
        const branch = `leak-${where === 'in place' ? 'inplace' : 'stream'}`;
        const made = await cli('branch', 'create', branch, '--masked', ...fromArgs(where), '--json');
        const error = jsonError(made, 5, 'masking_verification_failed');
        expect(error.message).toMatch(place);
        expect(await databaseExists(`ayb_branch_${branch.replace(/-/g, '_')}`)).toBe(false);
        // The judge: the source does hold the markers, so refusing was right.
        expect((await inDump('app')).length).toBeGreaterThan(0);
      });
    }
  }

  /** Shapes the masking handles: the copy is made, and none of its rows, catalogs or files hold an original. */
  const clean: Record<string, { sql: string; rules?: string; check?: string }> = {
    'a materialized view over customers': { sql: 'CREATE MATERIALIZED VIEW mv AS SELECT full_name, lower(email) AS e FROM customers;' },
    'a generated column lower(email)': { sql: 'ALTER TABLE customers ADD COLUMN lower_email text GENERATED ALWAYS AS (lower(email)) STORED;' },
    'extended statistics and an expression index, analysed': {
      sql: 'CREATE STATISTICS s (mcv) ON full_name, email FROM customers; CREATE INDEX ON customers (lower(full_name)); ANALYZE customers;',
    },
    'an inherited child table': {
      sql: `CREATE TABLE vip_customers (tier int) INHERITS (customers);
        INSERT INTO vip_customers SELECT g, 'Zorabel' || g || ' Quillfeather' || g, 'zora.quill' || g || '@leaky.example', 1 FROM generate_series(200, 210) g;`,
    },
    'a column typed as a domain over text': {
      sql: `CREATE DOMAIN mail AS text; ALTER TABLE customers ADD COLUMN backup mail; UPDATE customers SET backup = 'b.' || email;`,
      rules: rule('customers', 'backup', 'email'),
    },
    'a column named with a space and capitals ("Home Email")': {
      sql: `ALTER TABLE customers ADD COLUMN "Home Email" text; UPDATE customers SET "Home Email" = 'home.' || email;`,
      rules: rule('customers', 'Home Email', 'email'),
      check: `SELECT count(*)::int AS n FROM customers WHERE "Home Email" LIKE '%@example.com'`,
    },
    'a kept column holding one word that is also an original (not distinctive)': {
      sql: `INSERT INTO customers VALUES (300, 'Quintessa', 'q300@elsewhere.example'); CREATE TABLE actors (id int PRIMARY KEY, first_name text); INSERT INTO actors VALUES (1, 'Quintessa');`,
      rules: '',
    },
  };

  for (const [name, { sql, rules, check }] of Object.entries(clean)) {
    for (const where of ['in place', 'in the stream'] as const) {
      it(`clean ${where}: ${name}`, async () => {
        await fresh(sql);
        await writeFile(path.join(dir, 'ayb.toml'), RULES.replace('keep = [', 'keep = ["actors.*", ') + (rules ?? ''));
        const branch = `clean-${where === 'in place' ? 'inplace' : 'stream'}`;
        const made = await cli('branch', 'create', branch, '--masked', ...fromArgs(where), '--json');
        expect(made.exitCode, made.stderr + made.stdout).toBe(0);
        const database = `ayb_branch_${branch.replace(/-/g, '_')}`;
        expect(await inDump(database)).toEqual([]);
        expect(await onDisk(database)).toEqual([]);
        if (check) expect((await q<{ n: number }>(check, database))[0]!.n).toBe(50);
        expect((await cli('branch', 'delete', branch, '--yes')).exitCode).toBe(0);
      });
    }
  }

  it('an extension type that holds text (hstore) must be masked or kept (exit 2, masking_uncovered)', async () => {
    await fresh(`CREATE EXTENSION hstore; CREATE TABLE prefs (id int PRIMARY KEY, h hstore, token uuid);
      INSERT INTO prefs SELECT id, hstore('contact', email), gen_random_uuid() FROM customers;`);
    const made = await cli('branch', 'create', 'ext', '--masked', '--json');
    const error = jsonError(made, 2, 'masking_uncovered');
    expect(JSON.stringify(error)).toContain('prefs');
    expect(error.message).toMatch(/\bh\b/);
    expect(error.message).not.toMatch(/token/);
    expect(await databaseExists('ayb_branch_ext')).toBe(false);
    // The judge: the source's hstore does hold the originals.
    expect((await q<{ n: number }>("SELECT count(*)::int AS n FROM prefs WHERE h->'contact' LIKE '%@leaky.example'", 'app'))[0]!.n).toBe(50);
  });

  it('a column added after mask init is refused (exit 2, masking_uncovered)', async () => {
    await fresh('');
    const file = path.join(dir, 'ayb.toml');
    await rm(file, { force: true });
    const init = await runCli(['mask', 'init', '--file', file], { env, cwd: dir });
    expect(init.exitCode, init.stderr).toBe(0);
    await cluster.query(`ALTER TABLE customers ADD COLUMN "Nick Name" text; UPDATE customers SET "Nick Name" = full_name`, [], 'app');
    const made = await cli('branch', 'create', 'late', '--masked', '--json');
    const error = jsonError(made, 2, 'masking_uncovered');
    expect(JSON.stringify(error)).toContain('Nick Name');
    expect(await databaseExists('ayb_branch_late')).toBe(false);
  });
});
