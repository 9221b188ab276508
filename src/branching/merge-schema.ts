import { sameDefinition } from '../schema/diff.js';
import { describeObject, type SchemaObject, type SchemaSnapshot } from '../schema/model.js';
import { type MigrationStatement, planMigration } from '../schema/sql.js';
import { quoteIdent } from '../postgres/quote.js';
import { typeWithoutModifier } from '../datadiff/merge-stage.js';

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
  /** Why it conflicts, when the definitions alone do not say (a table the branch dropped whose rows the target changed). */
  readonly reason?: string;
}

export interface SchemaMerge {
  /** The statements that bring the branch's schema changes into the target, without undoing the target's own. */
  readonly migration: MigrationStatement[];
  readonly conflicts: SchemaConflict[];
  /** The branch changed nothing in the schema since the base. */
  readonly unchanged: boolean;
  /**
   * Columns the migration retypes within one type (only the type modifier changes: varchar(10) to
   * varchar(3), numeric(12,4) to numeric(12,2), timestamp(6) to timestamp(0)): `relation` (quoted),
   * `column` (quoted), the new type. A value of the target that the retype would cut or round is a conflict.
   */
  readonly narrowed: readonly { readonly relation: string; readonly column: string; readonly label: string; readonly from: string; readonly to: string }[];
  /**
   * Tables and columns the branch dropped (a rename is a drop and an add) that the target has as the
   * base had them: their rows (a column: its values) must be the base's, or the drop would silently
   * take the target's changes to them with it (checked against the data, see mergeSides).
   */
  readonly dropped: readonly { readonly kind: 'table' | 'column'; readonly schema: string; readonly table: string; readonly column: string | null; readonly object: SchemaObject }[];
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
  const narrowed: SchemaMerge['narrowed'][number][] = [];
  const dropped: SchemaMerge['dropped'][number][] = [];
  for (const [id, o] of ours.objects) {
    const m = merged.get(id);
    if (o.kind !== 'column' || m?.kind !== 'column' || o.table === undefined) continue;
    const [from, to] = [o.definition.type, m.definition.type];
    if (from !== to && typeWithoutModifier(from) === typeWithoutModifier(to)) {
      narrowed.push({ relation: `${quoteIdent(o.schema)}.${quoteIdent(o.table)}`, column: quoteIdent(o.name), label: describeObject(o), from, to });
    }
  }
  const tables = new Set([...merged.values()].filter((x) => x.kind === 'table').map((x) => `${x.schema}\0${x.name}`));
  for (const id of base.objects.keys()) {
    const [b, t, o] = [base.objects.get(id)!, theirs.objects.get(id), ours.objects.get(id)];
    if (t !== undefined || o === undefined || !same(b, o) || merged.has(id)) continue;
    if (b.kind === 'table') dropped.push({ kind: 'table', schema: b.schema, table: b.name, column: null, object: b });
    else if (b.kind === 'column' && b.table !== undefined && tables.has(`${b.schema}\0${b.table}`)) {
      dropped.push({ kind: 'column', schema: b.schema, table: b.table, column: b.name, object: b });
    }
  }
  return { migration, conflicts, unchanged, narrowed: conflicts.length > 0 ? [] : narrowed, dropped: conflicts.length > 0 ? [] : dropped };
}
