import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Masker, sqlKey, type MaskSpec } from '../../src/masking/functions.js';
import { MASK_FUNCTIONS_SQL, MASK_SESSION_SQL } from '../../src/masking/sql-functions.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * The two implementations of the masking functions (SQL for in-place masking, TypeScript for the
 * dump stream) must agree exactly: a branch masked either way holds the same values, and joins
 * across them still join. Each function is run on the same inputs by both and compared.
 */
const SECRET = 'test-secret-0123456789abcdef';

const TEXTS = [
  '', 'a', 'mary.smith@sakilacustomer.org', 'Mary', 'SMITH', 'O\'Brien-Smythe', '+1 (555) 010-4477', '47 MySakila Drive',
  'Zoë Ångström', '東京都千代田区', 'tab\there', 'line\nbreak', 'back\\slash', 'x'.repeat(70), '🙂 emoji 123',
];
const DATES = ['2022-02-15', '2022-02-15 09:57:20', '2022-02-15 09:57:20+00', '2000-02-29 23:59:59.123456+00', '0001-01-03', '9999-12-30', 'infinity'];
const JSONS = [
  '{"email": "a@b.org", "age": 42, "nested": {"phone": "555-1234", "keep": "x"}}',
  '[{"name": "Ann", "tags": ["x", "y"]}, {"name": null}, 1.50, true]',
  '{"contact": {"email": "z@z.io", "n": [1, 2.5e3, "s"]}, "other": "unchanged"}',
  '"just a string"',
];

const SPECS: MaskSpec[] = [
  { function: 'email', args: {}, unique: false },
  { function: 'email', args: { domain: 'masked.test' }, unique: false },
  { function: 'name', args: {}, unique: false },
  { function: 'name', args: {}, unique: true },
  { function: 'first_name', args: {}, unique: false },
  { function: 'last_name', args: {}, unique: true },
  { function: 'phone', args: {}, unique: false },
  { function: 'address', args: {}, unique: false },
  { function: 'address', args: {}, unique: true },
  { function: 'hash', args: {}, unique: false },
  { function: 'hash', args: { length: 12 }, unique: false },
  { function: 'null', args: {}, unique: false },
  { function: 'constant', args: { value: 'REDACTED' }, unique: false },
  { function: 'constant', args: { value: 7 }, unique: false },
  { function: 'redact', args: {}, unique: false },
  { function: 'redact', args: { keep_first: 1, keep_last: 2 }, unique: false },
];

let cluster: TestCluster;
let client: pg.Client;

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.createDatabase('maskfn');
  client = new pg.Client({ connectionString: cluster.url('maskfn') });
  await client.connect();
  await client.query(MASK_SESSION_SQL);
  await client.query(MASK_FUNCTIONS_SQL);
});

afterAll(async () => {
  await client?.end();
  await cluster?.stop();
});

async function sqlApply(spec: MaskSpec, value: string | null, type = 'text'): Promise<string | null> {
  const { rows } = await client.query<{ v: string | null }>(
    `SELECT _ayb_mask.apply($1, $2::${type}::text, $3, $4::jsonb, $5) AS v`,
    [spec.function, value, sqlKey(SECRET), JSON.stringify(spec.args), spec.unique],
  );
  return rows[0]!.v;
}

describe('masking functions: SQL and TypeScript agree', () => {
  const masker = new Masker(SECRET);

  it('gives the same text for every string function and input, and keeps NULL', async () => {
    for (const spec of SPECS) {
      for (const value of [...TEXTS, null]) {
        expect(await sqlApply(spec, value), `${spec.function} ${JSON.stringify(spec.args)} ${JSON.stringify(value)}`).toBe(masker.apply(spec, value));
      }
      expect(masker.apply(spec, null)).toBeNull();
    }
  });

  it('shifts dates, timestamps and timestamptz alike, within the range, never by zero', async () => {
    const spec: MaskSpec = { function: 'date_shift', args: { days: 10 }, unique: false };
    expect(DATES.slice(0, 4).every((value) => masker.apply(spec, value) !== value)).toBe(true);
    for (const value of DATES) {
      const ts = masker.apply(spec, value)!;
      expect(await sqlApply(spec, value), value).toBe(ts);
      // At the ends of the calendar (and for infinity) a shift that would leave it keeps the value.
      if (ts !== value) {
        const days = (Date.parse(ts.slice(0, 10)) - Date.parse(value.slice(0, 10))) / 86_400_000;
        expect(Math.abs(days)).toBeGreaterThanOrEqual(1);
        expect(Math.abs(days)).toBeLessThanOrEqual(10);
        expect(ts.slice(10)).toBe(value.slice(10));
      }
    }
    const { rows } = await client.query<{ v: string }>(`SELECT _ayb_mask.apply('date_shift', now()::timestamptz::text, $1, '{}', false)::timestamptz::text AS v`, [sqlKey(SECRET)]);
    expect(rows[0]!.v).toMatch(/^\d{4}-\d\d-\d\d /);
  });

  it('masks the named keys of json values the same way (compared as jsonb)', async () => {
    for (const args of [{ keys: ['email', 'phone', 'name'] }, { keys: ['contact'], function: 'redact' }, { keys: ['name'], function: 'null' }]) {
      const spec: MaskSpec = { function: 'json_keys', args, unique: false };
      for (const value of JSONS) {
        const normalized = (await client.query<{ v: string }>('SELECT $1::jsonb::text AS v', [value])).rows[0]!.v;
        const fromTs = masker.apply(spec, normalized)!;
        const { rows } = await client.query<{ same: boolean }>('SELECT $1::jsonb = $2::jsonb AS same', [await sqlApply(spec, normalized), fromTs]);
        expect(rows[0]!.same, `${JSON.stringify(args)} ${value}: ${fromTs}`).toBe(true);
      }
    }
    const masked = JSON.parse(masker.apply({ function: 'json_keys', args: { keys: ['email'] }, unique: false }, JSONS[0]!)!);
    expect(masked.email).not.toBe('a@b.org');
    expect(masked.nested.keep).toBe('x');
    expect(masked.age).toBe(42);
  });

  it('is deterministic under one secret and different under another', () => {
    const spec: MaskSpec = { function: 'email', args: {}, unique: false };
    expect(masker.apply(spec, 'a@b.org')).toBe(new Masker(SECRET).apply(spec, 'a@b.org'));
    expect(masker.apply(spec, 'a@b.org')).not.toBe(new Masker(`${SECRET}-other`).apply(spec, 'a@b.org'));
  });

  it('keeps unique inputs unique where it must (email always, names on unique columns)', () => {
    const emails = new Set<string>();
    const names = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      emails.add(masker.apply({ function: 'email', args: {}, unique: false }, `user${i}@example.org`)!);
      names.add(masker.apply({ function: 'name', args: {}, unique: true }, `Person ${i}`)!);
    }
    expect(emails.size).toBe(20_000);
    expect(names.size).toBe(20_000);
  });

  it('redact keeps length and format', () => {
    const out = masker.apply({ function: 'redact', args: {}, unique: false }, 'AB-12 cd!')!;
    expect(out).toMatch(/^[A-Z]{2}-\d{2} [a-z]{2}!$/);
    expect(out).not.toBe('AB-12 cd!');
  });
});
