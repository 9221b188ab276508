import { type ChangeAction, kindOrder, type SchemaChange } from './diff.js';
import { displayIdent, objectPath } from './model.js';

const MARKER: Record<ChangeAction, string> = { added: '+', removed: '-', changed: '~' };
const DETAIL_WIDTH = 110;

export interface DiffSides {
  /** How the two sides are called to the user, e.g. `main` and `feature-auth`. */
  readonly from: string;
  readonly to: string;
}

/**
 * The human view of a diff: one block per table (or other top-level object), the changes to its
 * columns, constraints, indexes, triggers and policies indented below it, `+` added, `-` removed,
 * `~` changed, and `[destructive]` on what can lose data.
 *
 *     Schema changes from main to dev: 3 changes (1 destructive)
 *
 *     ~ table public.film
 *         ~ column rating            type: public.mpaa_rating → text  [destructive]
 *         + index film_rating_idx    CREATE INDEX film_rating_idx ON public.film USING btree (rating)
 *     + view public.film_ratings
 */
export function renderChangesText(changes: readonly SchemaChange[], sides: DiffSides): string {
  if (changes.length === 0) return `No schema differences between ${sides.from} and ${sides.to}.\n`;
  const destructive = changes.filter((change) => change.destructive).length;
  const lines = [
    `Schema changes from ${sides.from} to ${sides.to}: ${changes.length} change${changes.length === 1 ? '' : 's'}${destructive > 0 ? ` (${destructive} destructive)` : ''}`,
    '',
  ];

  interface Group {
    readonly key: string;
    readonly order: number;
    own?: SchemaChange;
    readonly members: SchemaChange[];
  }
  const groups = new Map<string, Group>();
  const groupOf = (key: string, order: number) => {
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, order, members: [] }));
    return group;
  };
  for (const change of changes) {
    if (change.table !== null) {
      groupOf(JSON.stringify([change.schema, change.table]), kindOrder('table')).members.push(change);
    } else {
      const key = ['table', 'view', 'materialized_view'].includes(change.kind)
        ? JSON.stringify([change.schema, change.name])
        : JSON.stringify([change.kind, change.schema, change.name]);
      groupOf(key, kindOrder(change.kind)).own = change;
    }
  }
  const sorted = [...groups.values()].sort((x, y) => x.order - y.order || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));

  const rows: { indent: string; marker: string; label: string; detail: string; destructive: boolean }[] = [];
  for (const group of sorted) {
    if (group.own) {
      rows.push({ indent: '', marker: MARKER[group.own.action], label: label(group.own), detail: group.own.detail, destructive: group.own.destructive });
      // A new table shows what it holds: its columns, as an added column of an existing table would show.
      if (group.own.kind === 'table' && group.own.action === 'added') {
        for (const column of newTableColumns(group.own)) {
          rows.push({ indent: '    ', marker: '+', label: `column ${displayIdent(column.name)}`, detail: describeColumn(column), destructive: false });
        }
      }
    } else {
      const [schema, table] = JSON.parse(group.key) as [string, string];
      rows.push({ indent: '', marker: ' ', label: `${displayIdent(schema)}.${displayIdent(table)}`, detail: '', destructive: false });
    }
    for (const member of group.members) {
      rows.push({
        indent: '    ',
        marker: MARKER[member.action],
        label: `${member.kind.replace(/_/g, ' ')} ${displayIdent(member.name)}`,
        detail: member.detail,
        destructive: member.destructive,
      });
    }
  }
  const width = Math.min(56, Math.max(...rows.map((row) => row.indent.length + row.label.length)));
  for (const row of rows) {
    const head = `${row.marker} ${row.indent}${row.label}`;
    const detail = truncate(row.detail.replace(/\s+/g, ' ').trim(), DETAIL_WIDTH);
    const tail = [detail, row.destructive ? '[destructive]' : ''].filter(Boolean).join('  ');
    lines.push(tail ? `${head.padEnd(width + 2)}  ${tail}` : head);
  }
  return `${lines.join('\n')}\n`;
}

interface NewColumn {
  readonly name: string;
  readonly type?: string;
  readonly not_null?: boolean;
  readonly default?: string | null;
  readonly identity?: { readonly generation?: string } | null;
  readonly generated?: string | null;
}

/** The columns an added table's change carries (diff.ts puts them in its `to`), in column order. */
function newTableColumns(change: SchemaChange): readonly NewColumn[] {
  const columns = (change.to as { columns?: unknown } | null)?.columns;
  return Array.isArray(columns) ? (columns as NewColumn[]).filter((c) => typeof c?.name === 'string') : [];
}

function describeColumn(c: NewColumn): string {
  return [c.type ?? '', c.not_null ? 'not null' : '', c.default != null ? `default ${c.default}` : '', c.identity ? `identity ${c.identity.generation ?? ''}`.trim() : '', c.generated != null ? `generated as ${c.generated}` : '']
    .filter(Boolean)
    .join(', ');
}

function label(change: SchemaChange): string {
  return `${change.kind.replace(/_/g, ' ')} ${objectPath({ ...change, table: change.table ?? undefined })}`;
}

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
