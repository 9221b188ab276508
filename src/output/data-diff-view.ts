import { tableLabel } from '../datadiff/catalog.js';
import type { OutsideChange, TableDataChange } from '../datadiff/data-diff.js';
import { renderTable } from './writer.js';

const MATCH_LABEL: Record<TableDataChange['match'], string> = {
  primary_key: 'primary key',
  unique_index: 'unique index',
  rows: 'whole rows',
};

/**
 * The text view of a data diff: one line per table whose rows differ, how rows were matched, and
 * notes for tables compared on shared columns only or present on one side. Tables are written as
 * tableLabel does (a part holding a dot quoted), so that each names one table.
 */
export function renderDataChangesText(
  changes: readonly TableDataChange[],
  sides: { readonly from: string; readonly to: string; readonly onlyInFrom: readonly string[]; readonly onlyInTo: readonly string[]; readonly outside?: readonly OutsideChange[] },
): string {
  const differing = changes.filter((c) => c.added + c.removed + c.changed > 0);
  const lines: string[] = [];
  // Other differences than rows: the text must not say there are none.
  const oneSided = sides.onlyInFrom.length + sides.onlyInTo.length + (sides.outside?.length ?? 0) > 0 || changes.some((c) => c.columns_differ);
  if (differing.length === 0 && oneSided) lines.push(`No rows differ in the ${changes.length} table(s) both ${sides.from} and ${sides.to} have.`);
  else if (differing.length === 0) lines.push(`No data differences between ${sides.from} and ${sides.to} (${changes.length} table(s) compared).`);
  else {
    lines.push(`Rows that differ from ${sides.from} to ${sides.to}:`);
    lines.push(renderTable(differing, [
      { header: 'table', get: (c) => tableLabel(c) },
      { header: 'added', get: (c) => c.added },
      { header: 'removed', get: (c) => c.removed },
      { header: 'changed', get: (c) => (c.match === 'rows' ? '-' : c.changed) },
      { header: 'matched by', get: (c) => (c.key ? `${MATCH_LABEL[c.match]} (${c.key.join(', ')})` : MATCH_LABEL[c.match]) },
    ]));
    const same = changes.length - differing.length;
    if (same > 0) lines.push(`${same} other table(s) identical.`);
  }
  const shared = changes.filter((c) => c.columns_differ).map((c) => tableLabel(c));
  if (shared.length) lines.push(`Compared on shared columns only (their columns differ, a difference: the data of a column one side lacks): ${shared.join(', ')}.`);
  if (changes.some((c) => c.match === 'rows' && c.added + c.removed > 0)) {
    lines.push('Tables without a primary key or unique not-null index are compared as whole rows: a changed row shows as one removed and one added.');
  }
  for (const c of changes.filter((x) => x.not_a_key_on_both)) {
    lines.push(`${tableLabel(c)}: matched as whole rows, since (${c.not_a_key_on_both!.join(', ')}) is not unique and not null on both sides.`);
  }
  if (sides.onlyInFrom.length) lines.push(`Only in ${sides.from} (a difference; its rows are not compared): ${sides.onlyInFrom.join(', ')}.`);
  if (sides.onlyInTo.length) lines.push(`Only in ${sides.to} (a difference; its rows are not compared): ${sides.onlyInTo.join(', ')}.`);
  const outside = sides.outside ?? [];
  const named = (kind: OutsideChange['kind']) => outside.filter((o) => o.kind === kind).map((o) => tableLabel(o));
  if (named('sequence').length) lines.push(`Sequences whose position differs (a difference; the script sets them): ${named('sequence').join(', ')}.`);
  if (named('materialized_view').length) lines.push(`Materialized views whose rows differ (a difference; the script leaves them): ${named('materialized_view').join(', ')}.`);
  if (named('large_objects').length) lines.push('The large objects differ (a difference; the script leaves them).');
  return `${lines.join('\n')}\n`;
}
