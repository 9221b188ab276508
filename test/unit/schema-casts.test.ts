import { describe, expect, it } from 'vitest';
import { objectId } from '../../src/schema/model.js';
import { directCast, planMigration, renderMigration } from '../../src/schema/sql.js';
import { column, enumType, schema, snapshot, table } from '../helpers/schema-builders.js';

describe('the USING cast of a retyped column', () => {
  it('casts directly within a family of built-in types, and to or from a string type', () => {
    expect(directCast('integer', 'bigint')).toBe(true);
    expect(directCast('character varying(20)', 'character varying(50)')).toBe(true);
    expect(directCast('numeric(8,2)', 'integer')).toBe(true);
    expect(directCast('timestamp without time zone', 'timestamp with time zone')).toBe(true);
    expect(directCast('text', 'jsonb')).toBe(true);
    expect(directCast('integer', 'text')).toBe(true);
    expect(directCast('integer', 'boolean')).toBe(true);
    expect(directCast('integer[]', 'bigint[]')).toBe(true);
  });

  it('goes through text between types with no direct cast, and for enums and domains', () => {
    expect(directCast('uuid', 'integer')).toBe(false);
    expect(directCast('integer', 'text[]')).toBe(false);
    expect(directCast('public.e1', 'public.e2', [objectId('enum', 'public', 'e1')], [objectId('enum', 'public', 'e2')])).toBe(false);
    expect(directCast('public.d1', 'integer', [objectId('domain', 'public', 'd1')], [])).toBe(false);
    // An extension's type (citext) is a type like the built-in ones here.
    expect(directCast('text', 'public.citext', [], [objectId('extension', 'citext')])).toBe(true);
  });

  it('converts a column from one enum to another through text', () => {
    const e1 = enumType('e1', ['a']);
    const e2 = enumType('e2', ['a', 'b']);
    const t = table('t');
    const before = column('t', 'x', 'public.e1', {}, { dependsOn: [e1.id], typeDependsOn: [e1.id] });
    const after = column('t', 'x', 'public.e2', {}, { dependsOn: [e2.id], typeDependsOn: [e2.id] });
    const sql = renderMigration(planMigration(snapshot(schema('public'), e1, e2, t, before), snapshot(schema('public'), e1, e2, t, after)));
    expect(sql).toContain('ALTER TABLE "public"."t" ALTER COLUMN "x" TYPE public.e2 USING "x"::text::public.e2;');
  });

  it('sets NOT NULL before adding an identity to a nullable column', () => {
    const t = table('t');
    const identity = { generation: 'always' as const, start: '1', increment: '1', min_value: '1', max_value: '2147483647', cache: '1', cycle: false };
    const plan = planMigration(snapshot(schema('public'), t, column('t', 'x', 'integer')), snapshot(schema('public'), t, column('t', 'x', 'integer', { not_null: true, identity })));
    expect(plan.map((s) => s.sql)).toEqual([
      'ALTER TABLE "public"."t" ALTER COLUMN "x" SET NOT NULL',
      'ALTER TABLE "public"."t" ALTER COLUMN "x" ADD GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1 NO CYCLE)',
    ]);
  });
});
