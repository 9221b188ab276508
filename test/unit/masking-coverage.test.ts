import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/resolve.js';
import { proposeRule } from '../../src/masking/init.js';
import { type Catalog, keeps, planMasking, triggerColumns, uncoveredColumns } from '../../src/masking/plan.js';
import { replaceLiteral, stringLiterals } from '../../src/masking/side-channels.js';
import { couldBeOutput, needlesOf } from '../../src/masking/verify.js';

const col = (relid: number, attnum: number, name: string, type = 'text', extra: Partial<{ notnull: boolean; generated: boolean }> = {}) => ({
  relid, attnum, name, type, base: type, category: type === 'text' ? 'S' : type === 'tsvector' || type === 'jsonb' ? 'U' : 'N',
  notnull: extra.notnull ?? false, generated: extra.generated ?? false, textCapable: ['text', 'tsvector', 'jsonb'].includes(type),
});

const relations = [
  { oid: 1, schema: 'public', table: 'customers', relkind: 'r' },
  { oid: 2, schema: 'public', table: 'films', relkind: 'r' },
];
const catalog: Catalog = {
  relations: new Map(relations.map((r) => [r.oid, r])),
  byName: new Map(relations.map((r) => [`${r.schema}.${r.table}`, r])),
  columns: new Map([
    [1, [col(1, 1, 'id', 'integer'), col(1, 2, 'email'), col(1, 3, 'full_name'), col(1, 4, 'search', 'tsvector'), col(1, 5, 'upper_name', 'text', { generated: true }), col(1, 6, 'note')]],
    [2, [col(2, 1, 'id', 'integer'), col(2, 2, 'title'), col(2, 3, 'fulltext', 'tsvector')]],
  ]),
  uniqueColumns: new Map(),
  foreignKeys: [],
  children: new Map(),
  partitionKeys: new Map(),
  triggers: new Map([
    [1, [{ relid: 1, name: 'customers_search', enabled: 'O', type: 1 | 2 | 4 | 16, func: 'customers_search', src: "BEGIN NEW.search := to_tsvector('simple', NEW.full_name || ' ' || NEW.email); RETURN NEW; END", args: [] }]],
    [2, [{ relid: 2, name: 'films_fulltext', enabled: 'O', type: 1 | 2 | 4 | 16, func: 'tsvector_update_trigger', src: 'tsvector_update_trigger_byid', args: ['fulltext', 'pg_catalog.english', 'title'] }]],
  ]),
};

describe('masking coverage (fail closed)', () => {
  it('a column a trigger fills from masked columns is recomputed; a generated one is covered; the rest must be kept', () => {
    const plan = planMasking(catalog, [{ table: 'customers', column: 'email', function: 'email' }, { table: 'customers', column: 'full_name', function: 'name' }]);
    const customers = plan.tables.find((t) => t.table === 'customers')!;
    expect(customers.columns.find((c) => c.column === 'search')).toMatchObject({ via: 'trigger customers_search', mask: { kind: 'derived', trigger: 'customers_search', empty: null } });
    expect(uncoveredColumns(catalog, plan, []).map((c) => `${c.table}.${c.column}`)).toEqual(['public.customers.note', 'public.films.title', 'public.films.fulltext']);
    expect(uncoveredColumns(catalog, plan, ['customers.note', 'public.films.*'])).toEqual([]);
  });

  it('a trigger that reads no masked column derives nothing', () => {
    const plan = planMasking(catalog, [{ table: 'customers', column: 'note', function: 'redact' }]);
    expect(plan.tables[0]!.columns.map((c) => c.column)).toEqual(['note']);
  });

  it('reads what triggers write and read', () => {
    expect(triggerColumns({ func: 'f', src: 'NEW."Full Name" = upper(NEW.first); IF NEW.a = OLD.a THEN NEW.b := 1; END IF;', args: [] }))
      .toEqual({ writes: new Set(['Full Name', 'a', 'b']), reads: new Set(['Full Name', 'first', 'a', 'b']) });
    expect(triggerColumns({ func: 'tsvector_update_trigger', src: '', args: ['tsv', 'english', 'title', 'body'] })).toEqual({ writes: new Set(['tsv']), reads: new Set(['title', 'body']) });
  });

  it('keep entries: table.column, schema.table.column, table.*', () => {
    expect(keeps(['film.title'], 'public', 'film', 'title')).toBe(true);
    expect(keeps(['film.*'], 'public', 'film', 'anything')).toBe(true);
    expect(keeps(['app.users.*'], 'app', 'users', 'email')).toBe(true);
    expect(keeps(['film.*'], 'app', 'film', 'title')).toBe(false);
  });
});

describe('side channels and verification', () => {
  it('finds and replaces string literals as PostgreSQL deparses them', () => {
    const def = "SELECT id FROM customers WHERE email = 'o''brien@x.example'::text OR note = 'it''s'";
    expect(stringLiterals(def)).toEqual(["o'brien@x.example", "it's"]);
    expect(replaceLiteral(def, "o'brien@x.example", 'ada.lee@example.com')).toBe("SELECT id FROM customers WHERE email = 'ada.lee@example.com'::text OR note = 'it''s'");
  });

  it('searches for whole values and words, not for short ones nor words the masks write themselves', () => {
    const needles = needlesOf(['Zorabel Quillfeather', 'SMITH', 'Ada Smith', '12345', 'a.b@leaky.example']);
    expect([...needles.whole].sort()).toEqual(['a.b@leaky.example', 'zorabel quillfeather']);
    expect([...needles.words].sort()).toEqual(['a.b@leaky.example', 'quillfeather', 'zorabel']);
  });
});

describe('originals a mask could write itself are not searched for', () => {
  const fn = (f: 'phone' | 'redact' | 'address' | 'email') => ({ kind: 'function' as const, function: f, args: {}, unique: false });
  it('short scrambled values and addresses in the mask\'s own format', () => {
    expect(couldBeOutput(fn('phone'), '555-0100')).toBe(true);
    expect(couldBeOutput(fn('phone'), '+44 20 7946 0958')).toBe(false);
    expect(couldBeOutput(fn('address'), '12 Park Lane')).toBe(true);
    expect(couldBeOutput(fn('address'), '47 MySakila Drive')).toBe(false);
    expect(couldBeOutput(fn('email'), 'a@b.example')).toBe(false);
  });
});

describe('mask init proposals', () => {
  const u = (column: string, type: string, reasons: string[]) => ({ table: 'public.t', column, type, reasons });
  const info = (base: string, notnull = false, unique = false) => ({ base, category: ['text', 'varchar', 'bpchar'].includes(base) ? 'S' : 'N', notnull, unique });
  it('picks a function that fits the column', () => {
    expect(proposeRule(u('email', 'text', ['name looks like email']), info('text'))).toEqual({ table: 't', column: 'email', function: 'email' });
    expect(proposeRule(u('email', 'character varying(30)', ['name looks like email']), info('varchar'))?.function).toBe('redact');
    expect(proposeRule(u('first_name', 'text', ['name looks like name']), info('text'))?.function).toBe('first_name');
    expect(proposeRule(u('tax_id', 'text', ['name looks like identity or payment number']), info('text'))).toMatchObject({ function: 'hash', args: { length: 32 } });
    expect(proposeRule(u('prefs', 'jsonb', ['json keys cell, reach hold emails']), info('jsonb'))).toMatchObject({ function: 'json_keys', args: { keys: ['cell', 'reach'] } });
    expect(proposeRule(u('doc', 'tsvector', ['a tsvector']), info('tsvector'))?.function).toBe('null');
    expect(proposeRule(u('ip', 'inet', ['type inet']), info('inet', true, true))).toBeUndefined();
  });
});

describe('a mistyped masking function (issue 27, item 21)', () => {
  it('says did you mean', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-mask-typo-'));
    await writeFile(path.join(dir, 'ayb.toml'), '[[masking.rules]]\ntable = "customer"\ncolumn = "email"\nfunction = "emial"\n');
    await expect(loadConfig({ cwd: dir })).rejects.toThrow(/unknown masking function "emial": did you mean "email"\?/);
  });
});
