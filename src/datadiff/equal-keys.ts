import { quoteIdent, unnestAll } from '../postgres/quote.js';
import { type DataTable, tableId } from './catalog.js';
import type { Side, TableDiff } from './compare.js';
import { KeyList, type Keys, type KeyTuple } from './key-list.js';
import { keyCondition, keyEquality } from './sql.js';
import { fromWire } from './value-text.js';

/**
 * Key types whose text is one per value the key's equality tells apart (with ayb's pinned settings):
 * two keys of these with different text are different keys. Not so numeric (1.0 = 1.00), float
 * (0 = -0), interval ('1 day' = '24 hours'), citext, jsonb, arrays and ranges of those, domains, and
 * text under a nondeterministic collation (checked apart).
 */
const ONE_TEXT_PER_VALUE = new Set([
  'smallint', 'integer', 'bigint', 'uuid', 'date', 'boolean', 'bytea', 'oid', 'timestamp without time zone', 'timestamp with time zone',
  'time without time zone', 'text', 'character varying', 'character', '"char"', 'name',
]);
const COLLATABLE = new Set(['text', 'character varying', 'character', 'name']);

/**
 * Keys are matched by their text, but a key's own equality may find two texts equal: a key whose text
 * changed and nothing else (numeric 1.0 → 1.00, citext 'Ann@X' → 'ann@x', a case under a
 * case-insensitive collation) is the same row, changed — not one removed and one added, which a script
 * would write as a delete (and a foreign key's ON DELETE CASCADE would take the rows under it) and an
 * insert. Pairs such removed and added keys through side a's table, by the key's equality operators,
 * in the snapshot the table was compared in; the pair is a changed key, written in b's text (by which
 * the script reads b's row; it finds a's by the same equality).
 */
export async function pairEqualKeys(a: Side, diff: TableDiff<Keys>): Promise<TableDiff<Keys>> {
  const plan = diff.plan;
  // Columns that differ between the sides (a key of another type on b): nothing to pair by one type's equality.
  if (plan.match === 'rows' || plan.columnsDiffer || diff.added.length === 0 || diff.removed.length === 0) return diff;
  const table = a.catalog.tables.get(tableId(plan))!;
  const typeOf = (c: string) => table.columns.find((x) => x.name === c)!.type;
  const base = (c: string) => typeOf(c).replace(/\(\d+(,\d+)?\)/, '');
  // A key of the index's own equality that is not the type's plain = (a collation of its own, a custom operator): paired.
  const own = keyEquality(table, plan).some((e) => e !== '=');
  if (!own && plan.key.every((c) => ONE_TEXT_PER_VALUE.has(base(c)))) {
    const texts = plan.key.filter((c) => COLLATABLE.has(base(c)));
    if (texts.length === 0) return diff;
    const { rows } = await a.client.query<{ nondeterministic: boolean }>(
      `SELECT coalesce(bool_or(NOT c.collisdeterministic), false) AS nondeterministic FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation
        WHERE a.attrelid = $1::regclass AND a.attname = ANY ($2::text[])`,
      [`${quoteIdent(plan.schema)}.${quoteIdent(plan.name)}`, texts]);
    if (!rows[0]!.nondeterministic) return diff;
  }
  const columns = (keys: Keys) => plan.key.map((_, i) => Array.from(keys, (k) => k[i]));
  const n = plan.key.length;
  const list = (from: number) => plan.key.map((_, i) => `$${from + i}::text[]`);
  const aliases = plan.key.map((_, i) => `c${i}`).join(', ');
  const on = (alias: string) => keyCondition(table, plan.key, (i) => fromWire(`${alias}.c${i}`, a.bytes));
  // The removed key is a's row (t); an added key equal to it by the key's equality is the same row.
  const { rows } = await a.client.query<{ r: string; d: string }>(
    `SELECT r.o::text AS r, d.o::text AS d
       FROM ${unnestAll(list(1))} WITH ORDINALITY AS r(${aliases}, o)
       JOIN ONLY ${quoteIdent(plan.schema)}.${quoteIdent(plan.name)} t ON ${on('r')}
       JOIN ${unnestAll(list(n + 1))} WITH ORDINALITY AS d(${aliases}, o) ON ${on('d')}`,
    [...columns(diff.removed), ...columns(diff.added)]);
  return paired(diff, rows);
}

/**
 * The merge's pairing of the base's removed and the branch's added keys when the branch retyped a key
 * column: a key whose text the new type writes differently (numeric(6,2) 2.00 → numeric(8,4) 2.0000,
 * text → citext) is the same row, changed — not a row removed (whose delete the merge would apply to
 * the target's row) and one added (matched to that same target row, so dropped). The base's key is
 * compared in the branch's type (`theirs`: its table), on the base's server; a type the base lacks (an
 * enum the branch created) leaves the keys as they are.
 */
export async function pairRetypedKeys(a: Side, theirs: DataTable, diff: TableDiff<Keys>): Promise<TableDiff<Keys>> {
  const plan = diff.plan;
  if (plan.match === 'rows' || diff.added.length === 0 || diff.removed.length === 0) return diff;
  const table = a.catalog.tables.get(tableId(plan))!;
  const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)?.type;
  if (plan.key.every((c) => typeOf(table, c) === typeOf(theirs, c))) return diff;
  const columns = (keys: Keys) => plan.key.map((_, i) => Array.from(keys, (k) => k[i]));
  const n = plan.key.length;
  const list = (from: number) => plan.key.map((_, i) => `$${from + i}::text[]`);
  const aliases = plan.key.map((_, i) => `c${i}`).join(', ');
  const sql = `SELECT r.o::text AS r, d.o::text AS d
       FROM ${unnestAll(list(1))} WITH ORDINALITY AS r(${aliases}, o)
       JOIN ONLY ${quoteIdent(plan.schema)}.${quoteIdent(plan.name)} t ON ${keyCondition(table, plan.key, (i) => `r.c${i}`)}
       JOIN ${unnestAll(list(n + 1))} WITH ORDINALITY AS d(${aliases}, o) ON ${keyCondition(table, plan.key, (i) => `d.c${i}`, theirs)}`;
  const inTransaction = !a.perTable;
  if (inTransaction) await a.client.query('SAVEPOINT ayb_pair');
  try {
    const { rows } = await a.client.query<{ r: string; d: string }>(sql, [...columns(diff.removed), ...columns(diff.added)]);
    if (inTransaction) await a.client.query('RELEASE SAVEPOINT ayb_pair');
    return paired(diff, rows);
  } catch {
    if (inTransaction) await a.client.query('ROLLBACK TO SAVEPOINT ayb_pair; RELEASE SAVEPOINT ayb_pair');
    return diff;
  }
}

/** The diff with the removed and added keys of each pair (their places, from 1) made one changed key, in the added key's text. */
function paired(diff: TableDiff<Keys>, rows: readonly { r: string; d: string }[]): TableDiff<Keys> {
  const plan = diff.plan;
  if (rows.length === 0) return diff;
  const pairedRemoved = new Set(rows.map((x) => Number(x.r)));
  const pairedAdded = new Set(rows.map((x) => Number(x.d)));
  const keep = (keys: Keys, paired: Set<number>, into: KeyList, taken?: KeyList) => {
    let i = 0;
    for (const key of keys) {
      i++;
      if (!paired.has(i)) into.push(key);
      else taken?.push(key);
    }
  };
  const [added, removed, changed] = [new KeyList(), new KeyList(), new KeyList()];
  for (const key of diff.changed) changed.push(key as KeyTuple);
  keep(diff.added, pairedAdded, added, changed);
  keep(diff.removed, pairedRemoved, removed);
  return { plan, added, removed, changed };
}
