import type { Side } from './compare.js';

export type MergeStrategy = 'fail' | 'ours' | 'theirs';

export type Change = 'added' | 'removed' | 'changed';
export type Values = Record<string, string | null>;

/** How one conflict is settled: keep the target's values, take the branch's, or set these column values. */
export type Resolution = 'ours' | 'theirs' | Values;

/**
 * A row both sides changed since the base in ways that cannot both hold: the same column set to
 * different values (`columns` names them), or one side removed a row the other changed or added,
 * or the branch removed a row whose delete would cascade onto rows the target added or changed
 * (`cascade` names them). `base`, `our` and `their` are the values of the conflicting columns (of
 * the whole row for a row conflict; null where that side has no row).
 */
export interface MergeConflict {
  /** `schema.name`; `schema` and `name` tell apart two tables this text may be (`dot."a.b"`, `"dot.a".b`). */
  readonly table: string;
  readonly schema?: string;
  readonly name?: string;
  /** The key (or, for tables without one, the row). */
  readonly key: Values;
  /** What each side did to the row since the base. */
  readonly ours: Change;
  readonly theirs: Change;
  readonly columns: readonly string[];
  readonly base: Values | null;
  readonly our: Values | null;
  readonly their: Values | null;
  readonly cascade?: readonly { readonly table: string; readonly schema?: string; readonly name?: string; readonly key: Values }[];
  /** How it was settled: by a resolution file, by `--strategy`, or not at all (`null`). */
  readonly resolution: Resolution | null;
}

export interface MergeInput {
  readonly base: Side;
  /** The branch. */
  readonly theirs: Side;
  /** The target, read before any change (its schema not yet migrated), in a session holding the staging table. */
  readonly ours: Side;
  readonly strategy: MergeStrategy;
  /** Resolutions from a conflicts file, by conflictId. */
  readonly resolutions?: ReadonlyMap<string, Resolution>;
}

/**
 * What identifies a conflict in a resolution file: its place and the values each side holds (a stale
 * entry matches nothing). Its table by schema and name when the entry has them (a file ayb wrote);
 * an entry with only `table` (`schema.name`) is matched by that text (see settle).
 */
export function conflictId(c: Pick<MergeConflict, 'table' | 'schema' | 'name' | 'key' | 'columns' | 'our' | 'their'>): string {
  // An entry whose `table` text says another table than its schema and name (edited by hand) is stale.
  if (c.schema !== undefined && c.name !== undefined && c.table !== `${c.schema}.${c.name}`) return JSON.stringify(['stale', c.table, c.schema, c.name]);
  const table = c.schema !== undefined && c.name !== undefined ? [c.schema, c.name] : c.table;
  return JSON.stringify([table, c.key, c.columns, c.our, c.their]);
}

/** A conflict counts as settled toward the branch when resolved so (a file, or --strategy theirs). */
export function takesTheirs(resolution: Resolution | null): boolean {
  return resolution === 'theirs';
}

export function settle(input: MergeInput, conflict: Omit<MergeConflict, 'resolution'>): MergeConflict {
  const fromFile = input.resolutions?.get(conflictId(conflict)) ?? input.resolutions?.get(conflictId({ ...conflict, schema: undefined, name: undefined }));
  const resolution = fromFile ?? (input.strategy === 'fail' ? null : input.strategy);
  return { ...conflict, resolution };
}
