import { describe, expect, it } from 'vitest';
import { diffSnapshots, sameDefinition } from '../../src/schema/diff.js';
import { objectId } from '../../src/schema/model.js';
import { column, constraint, enumType, index, schema, snapshot, table, view } from '../helpers/schema-builders.js';

const pub = schema('public');

describe('diffSnapshots', () => {
  it('is empty, and prints as [], for identical schemas', () => {
    const objects = [pub, table('film'), column('film', 'id', 'integer', { not_null: true })];
    const changes = diffSnapshots(snapshot(...objects), snapshot(...objects));
    expect(changes).toEqual([]);
    expect(JSON.stringify(changes)).toBe('[]');
  });

  it('sees an index redefined under the same name', () => {
    const a = snapshot(pub, table('film'), index('film', 'film_title_idx', 'CREATE INDEX film_title_idx ON public.film USING btree (title)'));
    const b = snapshot(pub, table('film'), index('film', 'film_title_idx', 'CREATE INDEX film_title_idx ON public.film USING btree (lower(title))'));
    expect(diffSnapshots(a, b)).toEqual([
      {
        kind: 'index',
        schema: 'public',
        table: 'film',
        name: 'film_title_idx',
        action: 'changed',
        destructive: false,
        detail: 'definition: CREATE INDEX film_title_idx ON public.film USING btree (title) → CREATE INDEX film_title_idx ON public.film USING btree (lower(title))',
        from: { definition: 'CREATE INDEX film_title_idx ON public.film USING btree (title)' },
        to: { definition: 'CREATE INDEX film_title_idx ON public.film USING btree (lower(title))' },
      },
    ]);
  });

  it('sees a foreign key whose ON DELETE changed', () => {
    const a = snapshot(pub, table('film'), constraint('film', 'film_language_fkey', 'foreign_key', 'FOREIGN KEY (language_id) REFERENCES public.language(id) ON DELETE RESTRICT'));
    const b = snapshot(pub, table('film'), constraint('film', 'film_language_fkey', 'foreign_key', 'FOREIGN KEY (language_id) REFERENCES public.language(id) ON DELETE CASCADE'));
    expect(diffSnapshots(a, b)).toMatchObject([{ kind: 'constraint', name: 'film_language_fkey', action: 'changed', destructive: false }]);
  });

  it('reports a new table once, with its columns in column order inside', () => {
    const b = snapshot(
      pub,
      table('rating'),
      column('rating', 'score', 'integer', {}, { position: 2 }),
      column('rating', 'id', 'integer', { not_null: true }, { position: 1 }),
      constraint('rating', 'rating_pkey', 'primary_key', 'PRIMARY KEY (id)'),
    );
    const changes = diffSnapshots(snapshot(pub), b);
    expect(changes.map((c) => `${c.kind}:${c.name}:${c.action}`)).toEqual(['table:rating:added', 'constraint:rating_pkey:added']);
    expect(changes[0]!.to).toMatchObject({ columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'score', type: 'integer' }] });
    expect(changes[0]!.from).toBeNull();
  });

  it('folds the columns, constraints and indexes of a removed table into it, but not a foreign key on another table', () => {
    const a = snapshot(
      pub,
      table('language'),
      column('language', 'id', 'integer'),
      constraint('language', 'language_pkey', 'primary_key', 'PRIMARY KEY (id)'),
      index('language', 'language_name_idx', 'CREATE INDEX language_name_idx ON public.language USING btree (name)'),
      table('film'),
      constraint('film', 'film_language_fkey', 'foreign_key', 'FOREIGN KEY (language_id) REFERENCES public.language(id)'),
    );
    const b = snapshot(pub, table('film'));
    expect(diffSnapshots(a, b).map((c) => `${c.kind}:${c.name}:${c.action}:${c.destructive}`)).toEqual([
      'table:language:removed:true',
      'constraint:film_language_fkey:removed:false',
    ]);
  });

  it('marks what can lose data as destructive, and only that', () => {
    const a = snapshot(
      pub,
      enumType('mood', ['sad', 'ok']),
      table('t'),
      column('t', 'gone', 'text'),
      column('t', 'retyped', 'integer'),
      column('t', 'defaulted', 'integer'),
    );
    const b = snapshot(pub, enumType('mood', ['sad', 'meh', 'ok', 'happy']), table('t'), column('t', 'retyped', 'bigint'), column('t', 'defaulted', 'integer', { default: '0' }));
    const byName = Object.fromEntries(diffSnapshots(a, b).map((c) => [c.name, c]));
    expect(byName.gone).toMatchObject({ action: 'removed', destructive: true });
    expect(byName.retyped).toMatchObject({ action: 'changed', destructive: true, detail: 'type: integer → bigint' });
    expect(byName.defaulted).toMatchObject({ action: 'changed', destructive: false, detail: 'default: none → 0' });
    expect(byName.mood).toMatchObject({ action: 'changed', destructive: false, detail: 'values: +meh +happy' });

    const shrunk = diffSnapshots(a, snapshot(pub, enumType('mood', ['ok', 'sad']), table('t'), column('t', 'gone', 'text'), column('t', 'retyped', 'integer'), column('t', 'defaulted', 'integer')));
    expect(shrunk).toMatchObject([{ kind: 'enum', destructive: true, detail: 'values: reordered' }]);
  });

  it('tells a view from a table of the same name', () => {
    const a = snapshot(pub, table('report'));
    const b = snapshot(pub, view('report', 'SELECT 1'));
    expect(diffSnapshots(a, b).map((c) => `${c.kind}:${c.action}`)).toEqual(['table:removed', 'view:added']);
  });

  it('orders changes by kind, then schema, table and name', () => {
    const b = snapshot(pub, schema('zeta'), table('b'), table('a'), enumType('e', ['x']), view('v', 'SELECT 1'));
    expect(diffSnapshots(snapshot(pub), b).map((c) => `${c.kind}:${c.name}`)).toEqual(['schema:zeta', 'enum:e', 'table:a', 'table:b', 'view:v']);
  });

  it('matches objects by identity: the same name in another schema is another object', () => {
    const a = snapshot(pub, schema('app'), table('film'));
    const b = snapshot(pub, schema('app'), table('film', {}, 'app'));
    expect(diffSnapshots(a, b).map((c) => `${c.schema}.${c.name}:${c.action}`)).toEqual(['app.film:added', 'public.film:removed']);
    expect(objectId('table', 'a.b', 'c')).not.toBe(objectId('table', 'a', 'b.c'));
  });
});

describe('sameDefinition', () => {
  it('compares deeply and ignores key order', () => {
    expect(sameDefinition({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).toBe(true);
    expect(sameDefinition({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameDefinition({ a: null }, { a: 'x' })).toBe(false);
    expect(sameDefinition({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });
});
