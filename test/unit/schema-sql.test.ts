import { describe, expect, it } from 'vitest';
import { objectId, type SchemaObject } from '../../src/schema/model.js';
import { partitionKeyUses, planMigration, renderMigration } from '../../src/schema/sql.js';
import { column, constraint, enumType, fn, index, schema, sequence, snapshot, table, view } from '../helpers/schema-builders.js';

const pub = schema('public');
const sqlOf = (a: Parameters<typeof planMigration>[0], b: Parameters<typeof planMigration>[1]) => planMigration(a, b).map((s) => s.sql);

describe('planMigration', () => {
  it('is empty for identical schemas, and says so', () => {
    const objects = [pub, table('t'), column('t', 'id', 'integer')];
    expect(planMigration(snapshot(...objects), snapshot(...objects))).toEqual([]);
    expect(renderMigration([])).toBe('-- No schema differences.\n');
  });

  it('drops a view that uses a retyped column first and recreates it after; the index stays', () => {
    const titleId = objectId('column', 'public', 'film', 'title');
    const common = (type: string) => [
      pub,
      table('film'),
      column('film', 'title', type),
      index('film', 'film_title_idx', 'CREATE INDEX film_title_idx ON public.film USING btree (title)', [titleId]),
      view('film_titles', 'SELECT film.title FROM public.film;', [titleId]),
    ];
    expect(sqlOf(snapshot(...common('text')), snapshot(...common('character varying(200)')))).toEqual([
      'DROP VIEW "public"."film_titles"',
      'ALTER TABLE "public"."film" ALTER COLUMN "title" TYPE character varying(200) USING "title"::character varying(200)',
      'CREATE VIEW "public"."film_titles" AS\nSELECT film.title FROM public.film',
    ]);
  });

  it('drops a foreign key before the unique constraint it uses is rebuilt, and adds it back after', () => {
    const keyId = objectId('constraint', 'public', 'isbn', 'isbn_code_key');
    const objects = (unique: string) => [
      pub,
      table('isbn'),
      table('edition'),
      constraint('isbn', 'isbn_code_key', 'unique', unique),
      constraint('edition', 'edition_isbn_fkey', 'foreign_key', 'FOREIGN KEY (isbn) REFERENCES public.isbn(code)', [keyId, objectId('table', 'public', 'isbn')]),
    ];
    const plan = planMigration(snapshot(...objects('UNIQUE (code)')), snapshot(...objects('UNIQUE NULLS NOT DISTINCT (code)')));
    expect(plan.map((s) => s.sql)).toEqual([
      'ALTER TABLE "public"."edition" DROP CONSTRAINT "edition_isbn_fkey"',
      'ALTER TABLE "public"."isbn" DROP CONSTRAINT "isbn_code_key"',
      'ALTER TABLE "public"."isbn" ADD CONSTRAINT "isbn_code_key" UNIQUE NULLS NOT DISTINCT (code)',
      'ALTER TABLE "public"."edition" ADD CONSTRAINT "edition_isbn_fkey" FOREIGN KEY (isbn) REFERENCES public.isbn(code)',
    ]);
    expect(plan[0]!.note).toBe('dropped and recreated below: depends on constraint public.isbn.isbn_code_key');
  });

  it('creates new tables before the keys and foreign keys between them, and owns a serial sequence last', () => {
    const publisherId = objectId('column', 'public', 'publisher', 'id');
    const pkey = objectId('constraint', 'public', 'publisher', 'publisher_pkey');
    const b = snapshot(
      pub,
      table('book'),
      column('book', 'publisher_id', 'integer'),
      constraint('book', 'book_publisher_fkey', 'foreign_key', 'FOREIGN KEY (publisher_id) REFERENCES public.publisher(id)', [pkey, publisherId]),
      table('publisher'),
      column('publisher', 'id', 'integer', { not_null: true, default: "nextval('public.publisher_id_seq'::regclass)" }, { dependsOn: [objectId('sequence', 'public', 'publisher_id_seq')] }),
      constraint('publisher', 'publisher_pkey', 'primary_key', 'PRIMARY KEY (id)', [publisherId]),
      sequence('publisher_id_seq', { table: 'publisher', column: 'id' }),
    );
    expect(sqlOf(snapshot(pub), b)).toEqual([
      'CREATE SEQUENCE "public"."publisher_id_seq" AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1 NO CYCLE',
      'CREATE TABLE "public"."book" (\n    "publisher_id" integer\n)',
      'CREATE TABLE "public"."publisher" (\n    "id" integer DEFAULT nextval(\'public.publisher_id_seq\'::regclass) NOT NULL\n)',
      'ALTER TABLE "public"."publisher" ADD CONSTRAINT "publisher_pkey" PRIMARY KEY (id)',
      'ALTER TABLE "public"."book" ADD CONSTRAINT "book_publisher_fkey" FOREIGN KEY (publisher_id) REFERENCES public.publisher(id)',
      'ALTER SEQUENCE "public"."publisher_id_seq" OWNED BY "public"."publisher"."id"',
    ]);
  });

  it('marks destructive statements and renders the mark as a comment right above them', () => {
    const a = snapshot(pub, table('old'), column('old', 'id', 'integer'), table('t'), column('t', 'gone', 'text'));
    const b = snapshot(pub, table('t'));
    const plan = planMigration(a, b);
    expect(plan).toEqual([
      { sql: 'ALTER TABLE "public"."t" DROP COLUMN "gone"', destructive: 'drops column public.t.gone and its data' },
      { sql: 'DROP TABLE "public"."old"', destructive: 'drops table public.old and all its rows' },
    ]);
    expect(renderMigration(plan, 'migration from main to dev')).toBe(
      [
        '-- migration from main to dev',
        '-- 2 statements, 2 destructive (marked below): review before applying.',
        '',
        '-- destructive: drops column public.t.gone and its data',
        'ALTER TABLE "public"."t" DROP COLUMN "gone";',
        '',
        '-- destructive: drops table public.old and all its rows',
        'DROP TABLE "public"."old";',
        '',
      ].join('\n'),
    );
  });

  it('quotes every identifier, whatever it holds', () => {
    const weird = 'we"ird Nämé';
    const b = snapshot(pub, schema(weird), table(weird, {}, weird), column(weird, 'Sélect "x"', 'text', {}, { schema: weird }));
    expect(sqlOf(snapshot(pub), b)).toEqual([
      'CREATE SCHEMA "we""ird Nämé"',
      'CREATE TABLE "we""ird Nämé"."we""ird Nämé" (\n    "Sélect ""x""" text\n)',
    ]);
  });

  it('grows an enum in place, each new value at its position', () => {
    expect(sqlOf(snapshot(pub, enumType('mood', ['ok', 'sad'])), snapshot(pub, enumType('mood', ['new', 'ok', 'meh', 'sad', 'last'])))).toEqual([
      `ALTER TYPE "public"."mood" ADD VALUE 'new' BEFORE 'ok'`,
      `ALTER TYPE "public"."mood" ADD VALUE 'meh' AFTER 'ok'`,
      `ALTER TYPE "public"."mood" ADD VALUE 'last' AFTER 'sad'`,
    ]);
  });

  it('replaces a function body in place but rebuilds one whose result type changes, with its dependents', () => {
    const a = snapshot(pub, fn('f', 'integer', 'integer', 'SELECT 1'), view('v', 'SELECT public.f(1);', [objectId('function', 'public', 'f(integer)')]));
    const inPlace = snapshot(pub, fn('f', 'integer', 'integer', 'SELECT 2'), view('v', 'SELECT public.f(1);', [objectId('function', 'public', 'f(integer)')]));
    expect(sqlOf(a, inPlace)).toEqual([fn('f', 'integer', 'integer', 'SELECT 2').definition.definition]);

    const retyped = snapshot(pub, fn('f', 'integer', 'bigint', 'SELECT 2'), view('v', 'SELECT public.f(1);', [objectId('function', 'public', 'f(integer)')]));
    const statements = sqlOf(a, retyped);
    expect(statements.slice(0, 2)).toEqual(['DROP VIEW "public"."v"', 'DROP FUNCTION "public"."f"(integer)']);
    expect(statements[2]).toMatch(/^CREATE OR REPLACE FUNCTION public\.f\(integer\)\n RETURNS bigint/);
    expect(statements[3]).toBe('CREATE VIEW "public"."v" AS\nSELECT public.f(1)');
    expect(renderMigration(planMigration(a, retyped))).toContain('SET check_function_bodies = false;');
  });
});

describe('planMigration notes', () => {
  it('warns that a NOT NULL column without a default cannot be added to a table with rows', () => {
    const a = snapshot(pub, table('t'));
    const b = snapshot(pub, table('t'), column('t', 'required', 'text', { not_null: true }), column('t', 'defaulted', 'text', { not_null: true, default: "''::text" }, { position: 2 }));
    expect(planMigration(a, b)).toEqual([
      { sql: `ALTER TABLE "public"."t" ADD COLUMN "defaulted" text DEFAULT ''::text NOT NULL` },
      {
        sql: 'ALTER TABLE "public"."t" ADD COLUMN "required" text NOT NULL',
        note: 'NOT NULL without a default: fails if the table has rows (add a default, or add the column nullable and backfill first)',
      },
    ]);
  });
});

describe('issue 29: drop order and partition keys', () => {
  it('drops an enum only after the column that used it has been retyped (the column stays)', () => {
    const mood = enumType('mood', ['a']);
    const a = snapshot(pub, mood, table('t'), column('t', 'm', 'public.mood', {}, { dependsOn: [mood.id], typeDependsOn: [mood.id] }));
    const b = snapshot(pub, table('t'), column('t', 'm', 'text'));
    const sql = sqlOf(a, b);
    const retype = sql.findIndex((s) => s.includes('ALTER COLUMN "m" TYPE text'));
    const drop = sql.indexOf('DROP TYPE "public"."mood"');
    expect(retype).toBeGreaterThanOrEqual(0);
    expect(drop).toBeGreaterThan(retype);
  });

  it('drops an enum before anything is created when nothing that stays uses it', () => {
    const mood = enumType('mood', ['a']);
    const a = snapshot(pub, mood, table('t'), column('t', 'm', 'public.mood', {}, { dependsOn: [mood.id], typeDependsOn: [mood.id] }));
    const b = snapshot(pub, table('u'), column('u', 'id', 'integer'));
    const sql = sqlOf(a, b);
    expect(sql.indexOf('DROP TABLE "public"."t"')).toBeLessThan(sql.indexOf('DROP TYPE "public"."mood"'));
    expect(sql.indexOf('DROP TYPE "public"."mood"')).toBeLessThan(sql.findIndex((s) => s.startsWith('CREATE TABLE "public"."u"')));
  });

  it('recreates a domain built on a recreated enum after it, and drops the old domain before the old enum', () => {
    const moodId = objectId('enum', 'public', 'mood');
    const domain = (): SchemaObject => ({
      kind: 'domain',
      id: objectId('domain', 'public', 'dm'),
      schema: 'public',
      name: 'dm',
      definition: { type: 'public.mood', collation: null, default: null, not_null: false, constraints: [] },
      dependsOn: [objectId('schema', 'public'), moodId],
    });
    const plan = sqlOf(snapshot(pub, enumType('mood', ['sad', 'ok']), domain()), snapshot(pub, enumType('mood', ['ok']), domain()));
    expect(plan).toEqual([
      'ALTER TYPE "public"."mood" RENAME TO "mood__ayb_old"',
      `CREATE TYPE "public"."mood" AS ENUM ('ok')`,
      'ALTER DOMAIN "public"."dm" RENAME TO "dm__ayb_old"',
      'CREATE DOMAIN "public"."dm" AS public.mood',
      'DROP DOMAIN "public"."dm__ayb_old"',
      'DROP TYPE "public"."mood__ayb_old"',
    ]);
  });

  it('finds the columns a partition key names', () => {
    expect(partitionKeyUses('LIST (region)', 'region')).toBe(true);
    expect(partitionKeyUses('RANGE (placed_on, region)', 'region')).toBe(true);
    expect(partitionKeyUses('RANGE (lower(name))', 'name')).toBe(true);
    expect(partitionKeyUses('RANGE ("Odd col")', 'Odd col')).toBe(true);
    expect(partitionKeyUses('LIST (region_id)', 'region')).toBe(false);
    expect(partitionKeyUses('HASH (id)', 'i')).toBe(false);
    expect(partitionKeyUses(null, 'id')).toBe(false);
  });
});
