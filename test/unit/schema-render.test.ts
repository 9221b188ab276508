import { describe, expect, it } from 'vitest';
import { diffSnapshots } from '../../src/schema/diff.js';
import { renderChangesText } from '../../src/schema/render.js';
import { column, enumType, index, schema, snapshot, table, view } from '../helpers/schema-builders.js';

const pub = schema('public');
const sides = { from: 'main', to: 'dev' };

describe('renderChangesText', () => {
  it('says so when nothing differs', () => {
    expect(renderChangesText([], sides)).toBe('No schema differences between main and dev.\n');
  });

  it('groups changes under their table, marks them +/-/~ and flags what is destructive', () => {
    const a = snapshot(pub, enumType('mood', ['ok']), table('film'), column('film', 'rating', 'integer'), column('film', 'old', 'text'), view('v', 'SELECT 1'));
    const b = snapshot(
      pub,
      enumType('mood', ['ok', 'meh']),
      table('film', { rls_enabled: true }),
      column('film', 'rating', 'bigint'),
      index('film', 'film_rating_idx', 'CREATE INDEX film_rating_idx ON public.film USING btree (rating)'),
      table('Fancy Name'),
    );
    expect(renderChangesText(diffSnapshots(a, b), sides)).toBe(
      [
        'Schema changes from main to dev: 7 changes (2 destructive)',
        '',
        '~ enum public.mood           values: +meh',
        '+ table public."Fancy Name"',
        '~ table public.film          rls_enabled: false → true',
        '-     column old             text  [destructive]',
        '~     column rating          type: integer → bigint  [destructive]',
        '+     index film_rating_idx  CREATE INDEX film_rating_idx ON public.film USING btree (rating)',
        '- view public.v',
        '',
      ].join('\n'),
    );
  });

  it('puts a table that only has changes inside it as a plain heading', () => {
    const a = snapshot(pub, table('film'));
    const b = snapshot(pub, table('film'), index('film', 'i', 'CREATE INDEX i ON public.film USING btree (x)'));
    expect(renderChangesText(diffSnapshots(a, b), sides).split('\n').slice(2, 4)).toEqual([
      '  public.film',
      '+     index i  CREATE INDEX i ON public.film USING btree (x)',
    ]);
  });

  it('shows a new table with its columns, in column order', () => {
    const a = snapshot(pub);
    const b = snapshot(
      pub,
      table('orders'),
      column('orders', 'id', 'bigint', { not_null: true }, { position: 1 }),
      column('orders', 'note', 'text', { default: "''::text" }, { position: 2 }),
    );
    expect(renderChangesText(diffSnapshots(a, b), sides).split('\n').slice(2, 5)).toEqual([
      '+ table public.orders',
      '+     column id        bigint, not null',
      "+     column note      text, default ''::text",
    ]);
  });
});
