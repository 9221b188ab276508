import { sameDefinition } from '../schema/diff.js';
import { describeObject, type SchemaObject, type SchemaSnapshot } from '../schema/model.js';
import { type MigrationStatement, planMigration } from '../schema/sql.js';

type Change = 'added' | 'removed' | 'changed';

/** A schema object both sides changed since the base, differently (both added `notes.tag` with other types, say). */
export interface SchemaConflict {
  /** `column public.notes.tag`. */
  readonly object: string;
  readonly ours: Change;
  readonly theirs: Change;
  /** Each side's definition (null where it has none), as the schema snapshot reads it. */
  readonly base: unknown;
  readonly our: unknown;
  readonly their: unknown;
}

export interface SchemaMerge {
  /** The statements that bring the branch's schema changes into the target, without undoing the target's own. */
  readonly migration: MigrationStatement[];
  readonly conflicts: SchemaConflict[];
  /** The branch changed nothing in the schema since the base. */
  readonly unchanged: boolean;
}

const same = (a: SchemaObject | undefined, b: SchemaObject | undefined) =>
  a === undefined ? b === undefined : b !== undefined && a.kind === b.kind && sameDefinition(a.definition, b.definition);

function change(from: SchemaObject | undefined, to: SchemaObject | undefined): Change {
  return from === undefined ? 'added' : to === undefined ? 'removed' : 'changed';
}

/**
 * A three-way merge of schemas, object by object: what the branch changed since the base is taken
 * unless the target changed that object too, differently (a conflict); what both did alike, or the
 * target alone, stays. The migration turns the target into that merged schema, so a second merge
 * of the same changes, or a change the target already has, adds nothing.
 */
export function mergeSchemas(base: SchemaSnapshot, theirs: SchemaSnapshot, ours: SchemaSnapshot): SchemaMerge {
  const merged = new Map<string, SchemaObject>(ours.objects);
  const conflicts: SchemaConflict[] = [];
  let unchanged = true;
  const ids = new Set([...base.objects.keys(), ...theirs.objects.keys()]);
  for (const id of ids) {
    const [b, t, o] = [base.objects.get(id), theirs.objects.get(id), ours.objects.get(id)];
    if (same(b, t)) continue;
    unchanged = false;
    if (same(o, t)) continue;
    if (same(b, o)) {
      if (t === undefined) merged.delete(id);
      else merged.set(id, t);
      continue;
    }
    const described = describeObject((t ?? o ?? b)!);
    conflicts.push({ object: described, ours: change(b, o), theirs: change(b, t), base: b?.definition ?? null, our: o?.definition ?? null, their: t?.definition ?? null });
  }
  const inherited = new Map([...(ours.inheritedColumns ?? new Map()), ...(theirs.inheritedColumns ?? new Map())]);
  const target: SchemaSnapshot = { objects: merged, inheritedColumns: inherited };
  const migration = conflicts.length > 0 || unchanged ? [] : planMigration(ours, target);
  return { migration, conflicts, unchanged };
}
