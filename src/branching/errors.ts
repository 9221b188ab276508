import { ConflictError, NotFoundError } from '../core/errors.js';
import type { BranchRow, RecordKind } from '../core/records.js';
import { closest } from '../core/suggest.js';
import type { Client } from '../postgres/client.js';
import { listRows } from './control-table.js';

export function notFound(name: string, kind: RecordKind = 'branch', guess?: string): NotFoundError {
  const list = `list ${kind === 'snapshot' ? 'snapshots with: ayb snapshot list' : 'branches with: ayb branch list'}`;
  return new NotFoundError(`${kind}_not_found`, `${kind} "${name}" does not exist`, {
    hint: guess !== undefined ? `did you mean ${guess}? (${list})` : list,
  });
}

/** notFound, with the closest existing name of that kind as a "did you mean" (a typo is the usual cause). */
export async function notFoundNear(client: Client, name: string, kind: RecordKind = 'branch'): Promise<NotFoundError> {
  const names = (await listRows(client)).filter((row) => row.kind === kind).map((row) => row.name);
  return notFound(name, kind, closest(name, names));
}

export function existsError(row: BranchRow, requested: string, kind: RecordKind = 'branch'): ConflictError {
  if (row.name !== requested) {
    return new ConflictError('name_collision', `${kind} "${requested}" would use database "${row.branch_database}", which ${row.kind} "${row.name}" already uses`, {
      hint: `"-" and "_" map to the same database name; choose another name, or delete it with: ayb ${row.kind} delete ${row.name} --yes`,
    });
  }
  return new ConflictError(`${row.kind}_exists`, `${row.kind} "${row.name}" already exists (status: ${row.status})`, {
    hint: `choose another name (branches and snapshots share one namespace), or delete it with: ayb ${row.kind} delete ${row.name} --yes`,
  });
}

/** A branch or snapshot that branches were made from; the hint names the command for its kind. */
export function hasChildrenError(row: Pick<BranchRow, 'name' | 'kind'>, descendants: readonly BranchRow[]): ConflictError {
  const names = descendants.map((d) => d.name).reverse();
  const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
  return new ConflictError('branch_has_children', `${row.kind} "${row.name}" has ${names.length} branch(es) made from it: ${shown}`, {
    hint: `delete those first, or all of them with: ayb ${row.kind} delete ${row.name} --with-children --yes`,
    details: { children: names },
  });
}

/** A branch that a running `ayb start --branch` serves is not deleted under it. */
export function servedError(name: string): ConflictError {
  return new ConflictError('branch_in_use', `branch "${name}" is served by a running "ayb start"`, {
    hint: 'stop that server first (Ctrl-C where it runs), then delete the branch',
  });
}

/** A command for branches given a snapshot's name, or the other way round (one namespace of names). */
export function wrongKindError(row: Pick<BranchRow, 'name' | 'kind'>, expected: RecordKind): NotFoundError {
  const hint = row.kind === 'snapshot'
    ? `it is a snapshot: see it with ayb snapshot show ${row.name}, or branch from it with: ayb branch create <name> --from ${row.name}`
    : `it is a branch: see it with ayb branch show ${row.name}`;
  return new NotFoundError(`${expected}_not_found`, `"${row.name}" is a ${row.kind}, not a ${expected}`, { hint });
}
