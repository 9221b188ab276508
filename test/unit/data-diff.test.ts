import { describe, expect, it } from 'vitest';
import type { DataTable } from '../../src/datadiff/catalog.js';
import { planTable } from '../../src/datadiff/compare.js';
import { tableChange } from '../../src/datadiff/data-diff.js';
import { foreignKeyOrder, renderDml, sqlValue } from '../../src/datadiff/sql.js';

const table = (name: string, extra: Partial<DataTable> = {}): DataTable => ({
  schema: 'public',
  name,
  columns: [
    { name: 'id', type: 'integer', generated: false, identityAlways: false },
    { name: 'v', type: 'text', generated: false, identityAlways: false },
  ],
  key: { kind: 'primary_key', columns: ['id'] },
  triggers: [],
  references: [],
  estimatedRows: 0,
  ...extra,
});

describe('data diff pieces', () => {
  it('writes values as their text cast to the column type, NULL as NULL, backslashes and quotes intact', () => {
    expect(sqlValue(null, 'text')).toBe('NULL');
    expect(sqlValue("it's", 'text')).toBe("'it''s'::text");
    expect(sqlValue('\\x00ff', 'bytea')).toBe("E'\\\\x00ff'::bytea");
    expect(sqlValue('{"ü": [1, null]}', 'jsonb')).toBe('\'{"ü": [1, null]}\'::jsonb');
  });

  it('orders tables parents first, whatever order they come in, and survives cycles', () => {
    const order = foreignKeyOrder([
      table('address', { references: ['"public"."city"'] }),
      table('city', { references: ['"public"."country"'] }),
      table('country'),
      table('a', { references: ['"public"."b"'] }),
      table('b', { references: ['"public"."a"'] }),
    ]).map((t) => t.name);
    expect(order.indexOf('country')).toBeLessThan(order.indexOf('city'));
    expect(order.indexOf('city')).toBeLessThan(order.indexOf('address'));
    expect(order).toHaveLength(5);
  });

  it('matches by primary key, else a unique index, else whole rows; flags differing columns', () => {
    expect(planTable(table('t'), table('t'))).toMatchObject({ match: 'primary_key', key: ['id'], columnsDiffer: false, integerKey: true });
    const unique = table('t', { key: { kind: 'unique_index', columns: ['v'] } });
    expect(planTable(unique, unique)).toMatchObject({ match: 'unique_index', key: ['v'], integerKey: false });
    const keyless = table('t', { key: null });
    expect(planTable(keyless, keyless)).toMatchObject({ match: 'rows', key: ['id', 'v'] });
    const wider = table('t', { columns: [...table('t').columns, { name: 'w', type: 'int', generated: false, identityAlways: false }] });
    expect(planTable(table('t'), wider)).toMatchObject({ columns: ['id', 'v'], columnsDiffer: true });
  });

  it('matches by a key only where both sides hold it unique and not null; else whole rows, naming the key', () => {
    const unkeyed = table('t', { key: null, keys: [] });
    expect(planTable(table('t'), unkeyed)).toMatchObject({ match: 'rows', key: ['id', 'v'], notAKeyOnBoth: ['id'] });
    expect(planTable(unkeyed, table('t'))).toMatchObject({ match: 'rows', notAKeyOnBoth: ['id'] });
    // a's primary key is only a plain column on b, but a's unique index is on both: matched by that.
    const both = table('t', { keys: [{ kind: 'primary_key', columns: ['id'] }, { kind: 'unique_index', columns: ['v'] }] });
    const onlyV = table('t', { key: { kind: 'unique_index', columns: ['v'] }, keys: [{ kind: 'unique_index', columns: ['v'] }] });
    expect(planTable(both, onlyV)).toMatchObject({ match: 'unique_index', key: ['v'] });
    expect(planTable(both, onlyV).notAKeyOnBoth).toBeUndefined();
  });

  it('puts up to --limit example keys per kind in the JSON record', () => {
    const plan = planTable(table('t'), table('t'));
    const change = tableChange({ plan, added: [['1'], ['2'], ['3']], removed: [], changed: [['9']] }, 2);
    expect(change).toEqual({
      table: 'public.t', schema: 'public', name: 't', key: ['id'], match: 'primary_key', added: 3, removed: 0, changed: 1,
      examples: { added: [{ id: '1' }, { id: '2' }], changed: [{ id: '9' }] },
    });
  });

  it('inserts parents first and deletes children first, with triggers held off around it', () => {
    const parent = { table: table('parent', { triggers: ['touch'] }), inserts: ['INSERT parent;'], updates: [], deletes: ['DELETE parent;'] };
    const child = { table: table('child', { references: ['"public"."parent"'] }), inserts: ['INSERT child;'], updates: ['UPDATE child;'], deletes: ['DELETE child;'] };
    const all = renderDml('h', [child, parent], ['SELECT setval;']).split('\n');
    // The settings its values are written in, pinned for the transaction only, and deferrable constraints deferred.
    expect(all).toContain("SET LOCAL DateStyle = 'ISO, MDY';");
    expect(all).toContain("SET LOCAL search_path = '';");
    expect(all).toContain('SET CONSTRAINTS ALL DEFERRED;');
    const sql = all.filter((l) => !l.startsWith('--') && !l.startsWith('SET ') && l !== '');
    expect(sql).toEqual([
      'BEGIN;',
      'ALTER TABLE "public"."parent" DISABLE TRIGGER "touch";',
      'INSERT parent;', 'INSERT child;', 'UPDATE child;', 'DELETE child;', 'DELETE parent;',
      'ALTER TABLE "public"."parent" ENABLE TRIGGER "touch";',
      'SELECT setval;',
      'COMMIT;',
    ]);
  });
});
