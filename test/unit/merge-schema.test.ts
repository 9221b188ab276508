import { describe, expect, it } from 'vitest';
import { mergeSchemas } from '../../src/branching/merge-schema.js';
import { objectId, type SchemaObject, type SchemaSnapshot } from '../../src/schema/model.js';

/** A snapshot of enums only: name → values. */
function snapshot(enums: Record<string, string[]>): SchemaSnapshot {
  const objects = new Map<string, SchemaObject>();
  objects.set(objectId('schema', 'public'), { id: objectId('schema', 'public'), kind: 'schema', schema: 'public', name: 'public', dependsOn: [], definition: {} } as SchemaObject);
  for (const [name, values] of Object.entries(enums)) {
    const id = objectId('enum', 'public', name);
    objects.set(id, { id, kind: 'enum', schema: 'public', name, dependsOn: [objectId('schema', 'public')], definition: { values } } as SchemaObject);
  }
  return { objects };
}

describe('mergeSchemas (three-way, object by object)', () => {
  it('takes what only the branch changed, keeps what only the target changed', () => {
    const merged = mergeSchemas(snapshot({ mood: ['a'], size: ['s'] }), snapshot({ mood: ['a', 'b'], size: ['s'] }), snapshot({ mood: ['a'], size: ['s', 'm'] }));
    expect(merged.conflicts).toEqual([]);
    expect(merged.unchanged).toBe(false);
    expect(merged.migration.map((m) => m.sql)).toEqual([`ALTER TYPE "public"."mood" ADD VALUE 'b' AFTER 'a'`]);
  });

  it('adds nothing for a change both made alike (a second merge), and says when the branch changed nothing', () => {
    expect(mergeSchemas(snapshot({ mood: ['a'] }), snapshot({ mood: ['a', 'b'] }), snapshot({ mood: ['a', 'b'] })).migration).toEqual([]);
    expect(mergeSchemas(snapshot({ mood: ['a'] }), snapshot({ mood: ['a'] }), snapshot({ mood: ['a', 'z'] }))).toMatchObject({ unchanged: true, migration: [], conflicts: [] });
  });

  it('lists an object both changed differently, with each side\'s definition, and plans nothing', () => {
    const merged = mergeSchemas(snapshot({}), snapshot({ mood: ['a'] }), snapshot({ mood: ['b'] }));
    expect(merged.migration).toEqual([]);
    expect(merged.conflicts).toEqual([{ object: 'enum public.mood', ours: 'added', theirs: 'added', base: null, our: { values: ['b'] }, their: { values: ['a'] } }]);
  });
});
