import { readdir, readFile, writeFile, mkdtemp, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Masker } from '../../src/masking/functions.js';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { loadPagila } from '../helpers/pagila.js';

/**
 * Masked branches of Pagila: the rules apply before the branch is ready, foreign keys that point at a
 * masked column still match, triggers do not fire, and no original value is left in the branch's
 * files on disk (read directly, as root), whether it was masked in place (same server) or in the
 * dump stream (a URL the main database's server does not share).
 */
const SECRET = 'pagila-masking-secret-0123456789';

/** The rest of every table is kept: these tests are about the rules (mask init writes a full set; masking-init.test.ts). */
const KEEP = `[masking]
keep = [${['actor', 'address', 'category', 'city', 'country', 'customer', 'film', 'language', 'staff', 'payment', 'rental', 'store', 'inventory', 'newsletter'].map((t) => `"${t}.*"`).join(', ')}]
`;

const RULES = `
[[masking.rules]]
table = "customer"
column = "first_name"
function = "first_name"

[[masking.rules]]
table = "customer"
column = "last_name"
function = "last_name"

[[masking.rules]]
table = "customer"
column = "email"
function = "email"

[[masking.rules]]
table = "address"
column = "address"
function = "address"

[[masking.rules]]
table = "address"
column = "phone"
function = "phone"

[[masking.rules]]
table = "address"
column = "postal_code"
function = "redact"

[[masking.rules]]
table = "staff"
column = "password"
function = "null"

[[masking.rules]]
table = "rental"
column = "rental_date"
function = "date_shift"
args = { days = 20 }
`;

describe('masked branches (Pagila)', () => {
  let cluster: TestCluster;
  let dir: string;
  let env: Record<string, string>;
  let emails: string[];
  const cli = (...args: string[]) => runCli([...args, '--config', path.join(dir, 'ayb.toml')], { env });
  const q = async <T extends Record<string, unknown>>(sql: string, database: string) => (await cluster.query<T>(sql, [], database)).rows;

  /** Which of `needles` occur anywhere in the files of `database` (after a checkpoint). */
  async function foundOnDisk(database: string, needles: readonly string[]): Promise<string[]> {
    await cluster.query('CHECKPOINT', [], 'postgres');
    const [{ oid }] = await q<{ oid: number }>(`SELECT oid FROM pg_database WHERE datname = '${database}'`, 'postgres');
    const folder = path.join(cluster.dataDir, 'base', String(oid));
    const buffers = await Promise.all((await readdir(folder)).map((f) => readFile(path.join(folder, f))));
    return needles.filter((n) => buffers.some((b) => b.includes(Buffer.from(n, 'utf8'))));
  }

  beforeAll(async () => {
    cluster = await startTestCluster();
    await loadPagila(cluster, 'pagila');
    // A foreign key onto a masked column: the newsletter's emails must follow the customers'.
    await cluster.query(`ALTER TABLE customer ADD CONSTRAINT customer_email_key UNIQUE (email);
      CREATE TABLE newsletter (email text PRIMARY KEY REFERENCES customer (email), since date);
      INSERT INTO newsletter SELECT email, create_date FROM customer WHERE customer_id % 3 = 0;`, [], 'pagila');
    emails = (await q<{ email: string }>('SELECT email FROM customer ORDER BY customer_id', 'pagila')).map((r) => r.email);
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-masking-'));
    await writeFile(path.join(dir, 'ayb.toml'), KEEP + RULES);
    env = { AYB_DATABASE_URL: cluster.url('pagila'), AYB_MASKING_SECRET: SECRET };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('finds the originals in the files of main (the scan itself works)', async () => {
    expect((await foundOnDisk('pagila', emails.slice(0, 20))).length).toBe(20);
  });

  it('masks a same-server branch in place: values as the TypeScript functions compute them, keys still matching, triggers off, nothing left on disk', async () => {
    const made = await cli('branch', 'create', 'masked', '--masked', '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ name: 'masked', status: 'ready', masked: true, strategy: 'template' });
    const db = 'ayb_branch_masked';

    const masker = new Masker(SECRET);
    const masked = await q<{ customer_id: number; email: string; first_name: string; last_update: Date }>('SELECT customer_id, email, first_name, last_update FROM customer ORDER BY customer_id', db);
    const original = await q<{ customer_id: number; email: string; first_name: string; last_update: Date }>('SELECT customer_id, email, first_name, last_update FROM customer ORDER BY customer_id', 'pagila');
    expect(masked.map((r) => r.email)).toEqual(original.map((r) => masker.apply({ function: 'email', args: {}, unique: true }, r.email)));
    expect(masked.map((r) => r.first_name)).toEqual(original.map((r) => masker.apply({ function: 'first_name', args: {}, unique: false }, r.first_name)));
    // The last_updated trigger did not fire.
    expect(masked.map((r) => r.last_update.getTime())).toEqual(original.map((r) => r.last_update.getTime()));
    // The foreign key onto customer.email still holds, row for row.
    const [joined] = await q<{ n: string; total: string }>('SELECT count(c.email) AS n, count(*) AS total FROM newsletter n LEFT JOIN customer c USING (email)', db);
    expect(joined!.n).toBe(joined!.total);
    expect(Number(joined!.total)).toBeGreaterThan(100);
    const [staff] = await q<{ n: string }>('SELECT count(*) AS n FROM staff WHERE password IS NOT NULL', db);
    expect(staff!.n).toBe('0');

    const phones = (await q<{ phone: string }>('SELECT phone FROM address ORDER BY address_id LIMIT 50', 'pagila')).map((r) => r.phone).filter((p) => p.length >= 8);
    const needles = [...emails, ...phones, '47 MySakila Drive', '28 MySQL Boulevard'];
    expect((await foundOnDisk('pagila', needles)).length).toBe(needles.length);
    expect(await foundOnDisk(db, needles)).toEqual([]);

    const listed = await cli('branch', 'list');
    expect(listed.stdout).toMatch(/^masked +ready +.* masked *$/m);
  });

  it('masks a branch from a URL in the dump stream, with the same values as in place', async () => {
    // Another host name for the same server: to ayb it is another server, so only the stream can mask.
    const url = cluster.url('pagila').replace('127.0.0.1', 'localhost');
    const made = await cli('branch', 'create', 'streamed', '--masked', '--from', url, '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ status: 'ready', masked: true, strategy: 'dump' });
    const sql = 'SELECT customer_id, email, first_name, last_name FROM customer ORDER BY customer_id';
    expect(await q(sql, 'ayb_branch_streamed')).toEqual(await q(sql, 'ayb_branch_masked'));
    const shifted = 'SELECT rental_id, rental_date FROM rental ORDER BY rental_id';
    expect(await q(shifted, 'ayb_branch_streamed')).toEqual(await q(shifted, 'ayb_branch_masked'));
    expect(await foundOnDisk('ayb_branch_streamed', emails)).toEqual([]);
  });

  it('never leaves a branch that could not be fully masked', async () => {
    const bad = path.join(dir, 'bad.toml');
    // A masked email is longer than 32 characters: the UPDATE fails halfway through the rules.
    await cluster.query('ALTER TABLE staff ALTER COLUMN username TYPE varchar(32)', [], 'pagila');
    await writeFile(bad, `${KEEP}${RULES}\n[[masking.rules]]\ntable = "staff"\ncolumn = "username"\nfunction = "email"\n`);
    const made = await runCli(['branch', 'create', 'half', '--masked', '--json', '--config', bad], { env });
    expect(made.exitCode).not.toBe(0);
    expect(made.json().error.message).toMatch(/too long/);
    const [row] = await q<{ status: string }>("SELECT status FROM _ayb_branches WHERE name = 'half'", 'pagila');
    expect(row?.status).toBe('failed');
    expect(await q("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_half'", 'postgres')).toEqual([]);
    // A failed record has no database: show prints no URL for it (issue 27, item 5).
    const shown = await runCli(['branch', 'show', 'half', '--config', bad], { env });
    expect(shown.stdout).not.toMatch(/postgres(ql)?:\/\//);
    const shownJson = await runCli(['branch', 'show', 'half', '--json', '--config', bad], { env });
    expect(shownJson.json()).toMatchObject({ status: 'failed' });
    expect(shownJson.json().url).toBeUndefined();
  });

  it('refuses a text function on a non-text column before anything is recorded or copied (issue 27, item 5)', async () => {
    const wrong = path.join(dir, 'wrong.toml');
    await writeFile(wrong, `${KEEP}${RULES}\n[[masking.rules]]\ntable = "customer"\ncolumn = "create_date"\nfunction = "email"\n`);
    const made = await runCli(['branch', 'create', 'wrongtype', '--masked', '--json', '--config', wrong], { env });
    expect(made.exitCode).toBe(2);
    expect(made.json().error.code).toBe('invalid_masking_rules');
    expect(made.json().error.message).toMatch(/email masks text columns, and create_date is date/);
    expect(await q("SELECT 1 FROM _ayb_branches WHERE name = 'wrongtype'", 'pagila')).toEqual([]);
    expect(await q("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_wrongtype'", 'postgres')).toEqual([]);
  });

  it('refuses a masked copy while a column that can hold text is neither masked nor kept, with the list', async () => {
    const partial = path.join(dir, 'partial.toml');
    await writeFile(partial, RULES);
    const made = await runCli(['branch', 'create', 'uncovered', '--masked', '--json', '--config', partial], { env });
    expect(made.exitCode).toBe(2);
    const { error } = made.json();
    expect(error.code).toBe('masking_uncovered');
    const listed = error.uncovered.map((u: { table: string; column: string }) => `${u.table}.${u.column}`);
    // Judged against the catalog: every text-capable column of a user table without a rule.
    const { rows } = await cluster.query<{ c: string }>(
      `SELECT n.nspname || '.' || c.relname || '.' || a.attname AS c FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = 'public' AND c.relname <> '_ayb_branches' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
          AND (t.typcategory = 'S' OR t.typname IN ('tsvector', 'bytea', 'json', 'jsonb', '_text'))
          AND (c.relname, a.attname) NOT IN (('customer', 'first_name'), ('customer', 'last_name'), ('customer', 'email'), ('address', 'address'), ('address', 'phone'),
                                             ('address', 'postal_code'), ('staff', 'password'), ('newsletter', 'email'))
        ORDER BY 1`, [], 'pagila');
    expect([...listed].sort()).toEqual(rows.map((r) => r.c).sort());
    expect(await q("SELECT 1 FROM _ayb_branches WHERE name = 'uncovered'", 'pagila')).toEqual([]);
  });

  it('refuses --masked without a secret, and a secret file others can read', async () => {
    const noSecret = await runCli(['branch', 'create', 'x', '--masked', '--json', '--config', path.join(dir, 'ayb.toml')], { env: { AYB_DATABASE_URL: env.AYB_DATABASE_URL! } });
    expect(noSecret.exitCode).toBe(2);
    expect(noSecret.json().error.code).toBe('masking_secret_missing');
    const keyFile = path.join(dir, 'masking.key');
    await writeFile(keyFile, SECRET);
    await chmod(keyFile, 0o644);
    await writeFile(path.join(dir, 'file.toml'), `[masking]\nsecret_file = "masking.key"\n${RULES}`);
    const open = await runCli(['branch', 'create', 'x', '--masked', '--json', '--config', path.join(dir, 'file.toml')], { env: { AYB_DATABASE_URL: env.AYB_DATABASE_URL! } });
    expect(open.exitCode).toBe(2);
    expect(open.json().error.code).toBe('masking_secret_insecure');
    expect(await q("SELECT 1 FROM _ayb_branches WHERE name = 'x'", 'pagila')).toEqual([]);
  });

  it('mask check lists personal-looking columns without a rule, and rules that name nothing (exit 1)', async () => {
    await writeFile(path.join(dir, 'check.toml'), `${RULES}\n[[masking.rules]]\ntable = "customer"\ncolumn = "emial"\nfunction = "email"\n[[masking.rules]]\ntable = "clients"\ncolumn = "email"\nfunction = "email"\n`);
    await cluster.query("CREATE TABLE visits (id int, client text, seen_from text); INSERT INTO visits SELECT g, 'c' || g, '10.0.' || (g % 200) || '.' || g % 250 FROM generate_series(1, 50) g", [], 'pagila');
    const check = await runCli(['mask', 'check', '--json', '--config', path.join(dir, 'check.toml')], { env });
    expect(check.exitCode, check.stderr).toBe(1);
    const report = check.json();
    const unmasked = report.unmasked.map((u: { table: string; column: string }) => `${u.table}.${u.column}`);
    expect(unmasked).toEqual(expect.arrayContaining(['public.staff.email', 'public.staff.first_name', 'public.actor.first_name', 'public.visits.seen_from']));
    expect(unmasked).not.toContain('public.customer.email');
    expect(unmasked).not.toContain('public.newsletter.email');
    // Keys that point at personal data are not personal data themselves.
    expect(unmasked).not.toContain('public.customer.address_id');
    expect(report.problems.map((p: { table: string; column: string }) => `${p.table}.${p.column}`)).toEqual(['customer.emial', 'clients.email']);
    const text = await runCli(['mask', 'check', '--config', path.join(dir, 'check.toml')], { env });
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(/staff\.email/);

    // Everything covered or looked at and ignored: exit 0.
    const ignore = report.unmasked.map((u: { table: string; column: string }) => `"${u.table}.${u.column}"`).join(', ');
    const rest = report.uncovered.map((u: { table: string; column: string }) => `"${u.table}.${u.column}"`).join(', ');
    await writeFile(path.join(dir, 'clean.toml'), `[masking]\nignore = [${ignore}]\nkeep = [${rest}]\n${RULES}`);
    const clean = await runCli(['mask', 'check', '--json', '--config', path.join(dir, 'clean.toml')], { env });
    expect(clean.exitCode, clean.stdout).toBe(0);
    expect(clean.json()).toMatchObject({ ok: true, unmasked: [], problems: [] });
  });
});
