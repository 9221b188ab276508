/**
 * What the dashboard remembers between requests, in one object, and the DOM-free rules read from
 * it (the tree of records, what a record was made from).
 */
import type { BranchJson } from './api.js';

/** The From option for `main@<time>`: its moment is typed in the form's moment field. */
export const AT_MOMENT = 'main@';
/** How often the list is read again while a copy is being made. */
export const POLL_MS = 1000;

export interface DashboardState {
  /** The branch this server serves (null for main): it can be neither reset nor deleted here. */
  servedBranch: string | null;
  /** The main database's name: records name it in source_database, the page says main. */
  mainDatabase: string | null;
  /** Creates started on this page and not answered yet: the list is polled while there are any. */
  pendingCreates: number;
  /** The schema diff shown, and which of its two forms. */
  diff: { to: string; text: string; sql: string; showing: 'text' | 'sql' } | undefined;
  pollTimer: number | undefined;
  /** Which refresh of the list is the newest: the sizes of an older one, arriving late, are not drawn. */
  refreshes: number;
  /** The branch whose data changes are shown, and a counter so that only the latest comparison is drawn. */
  dataOf: string | undefined;
  dataRequest: number;
  /** The ready snapshots, for the Reset dialog's "Reset to". */
  readySnapshots: string[];
}

export const state: DashboardState = {
  servedBranch: null,
  mainDatabase: null,
  pendingCreates: 0,
  diff: undefined,
  pollTimer: undefined,
  refreshes: 0,
  dataOf: undefined,
  dataRequest: 0,
  readySnapshots: [],
};

/** What a record was made from, as the user names it: its parent, main, or the database or URL recorded. */
export function parentName(record: BranchJson, mainDatabase: string | null): string {
  return record.parent ?? (record.source_database === mainDatabase ? 'main' : record.source_database);
}

export type Row = { record: BranchJson; depth: number; last: boolean };

/**
 * Branches and snapshots in one tree, as `ayb branch list --tree`: a branch under the branch or
 * snapshot it was made from, a snapshot under the branch it froze, the rest (made from main or
 * elsewhere) at the top; oldest first among siblings.
 */
export function treeOrder(records: readonly BranchJson[]): Row[] {
  const names = new Set(records.map((r) => r.name));
  const byDatabase = new Map(records.map((r) => [r.branch_database, r.name]));
  const parentOf = (r: BranchJson): string | null => {
    if (r.parent !== null && names.has(r.parent)) return r.parent;
    if (r.kind === 'snapshot') return byDatabase.get(r.source_database) ?? null;
    return null;
  };
  const sorted = [...records].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.name.localeCompare(b.name));
  const children = new Map<string | null, BranchJson[]>();
  for (const r of sorted) {
    const parent = parentOf(r);
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const out: Row[] = [];
  const seen = new Set<string>();
  const visit = (parent: string | null, depth: number) => {
    const list = children.get(parent) ?? [];
    list.forEach((r, i) => {
      if (seen.has(r.name)) return;
      seen.add(r.name);
      out.push({ record: r, depth, last: i === list.length - 1 });
      visit(r.name, depth + 1);
    });
  };
  visit(null, 0);
  return out;
}
