import { quoteIdent, quoteLiteral, unnestAll } from '../postgres/quote.js';
import { ownSearchPathSql, OWN_SEARCH_PATH_SQL, valueSettingsSql } from '../postgres/value-settings.js';
import { keyCondition, keyEquality } from './key-condition.js';
import { PIECE_CHARS, type Rendered, renderedBatches, STATEMENT_ROWS } from './rendered-rows.js';
import { type ActingKey, type DataTable, tableId, tableLabel } from './catalog.js';

export { keyCondition, keyEquality };
import { type KeyTuple, type Side, type TableDiff, type TablePlan } from './compare.js';
import { concatKeys, jsonBatches, type Keys } from './key-list.js';
import { addKey, asSuperuser, dropKey, eventTriggerStatements, liftedKeys, privilegeNote } from './script-ddl.js';
import { fromWire, textLiteral, valueText, wireLiteral, wireText } from './value-text.js';

/** Keys per query when rows are fetched by key. */
const FETCH_BATCH = 1000;

/**
 * A value's text (valueText) compared by its bytes: format() keeps the column's collation, and under a
 * nondeterministic one ('ABC' = 'abc') a row's text would find another row, equal to it but not it.
 */
const byteText = (expr: string): string => `(${valueText(expr)}) COLLATE pg_catalog."C"`;

/**
 * A value as SQL: NULL, or its text as a literal cast to the column's type (exact for every type with
 * text I/O); with `bytes`, a text that travelled as its bytes (value-text.ts).
 */
export function sqlValue(text: string | null, type: string, bytes?: boolean): string {
  return text === null ? 'NULL' : `${textLiteral(text, bytes)}::${type}`;
}

/**
 * A name as the text of a `--` comment: a newline (or carriage return) in a quoted identifier would end
 * the comment, and the rest of the name be read as SQL; written as `\\n` / `\\r` instead, and a
 * backslash as `\\\\` (so that a name holding a newline and one holding `\\n` read differently).
 */
export const commentText = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
/** A table for a comment: its label (a part holding a dot quoted: one table's). */
export const noted = (t: { schema: string; name: string }): string => commentText(tableLabel(t));

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * Fetches full rows (the text of every compared column) by key, in batches; an index on the key
 * serves each batch. Returns a map from the key's JSON to the row.
 */
export async function fetchRows(side: Side, plan: TablePlan, keys: readonly KeyTuple[]): Promise<Map<string, (string | null)[]>> {
  const table = side.catalog.tables.get(tableId(plan))!;
  const out = new Map<string, (string | null)[]>();
  const keyAt = plan.key.map((k) => plan.columns.indexOf(k));
  const join = keyCondition(table, plan.key, (i) => fromWire(`k.c${i}`, side.bytes));
  const sql = `SELECT ${plan.columns.map((c) => wireText(`t.${quoteIdent(c)}`, side.bytes)).join(', ')}
                 FROM ONLY ${qualified(plan)} t JOIN ${unnestAll(plan.key.map((_, i) => `$${i + 1}::text[]`))} AS k(${plan.key.map((_, i) => `c${i}`).join(', ')}) ON ${join}`;
  for (let start = 0; start < keys.length; start += FETCH_BATCH) {
    const batch = keys.slice(start, start + FETCH_BATCH);
    const { rows } = await side.client.query({ text: sql, values: plan.key.map((_, i) => batch.map((k) => k[i])), rowMode: 'array' });
    for (const row of rows as (string | null)[][]) out.set(JSON.stringify(keyAt.map((i) => row[i]!)), row);
  }
  return out;
}

/**
 * `ALTER TABLE … DISABLE TRIGGER` for each user trigger of the table and `… DISABLE RULE` for each of its
 * rules, or the ENABLE that puts each back in the mode it had (ENABLE ALWAYS / ENABLE REPLICA: a bare
 * ENABLE would change which sessions it fires in). The script replays b's rows, not the actions that
 * made them: a trigger or a DO ALSO rule would write its rows a second time, a DO INSTEAD rule keep the
 * script's own statement from happening (and PostgreSQL refuses DO ALSO rules in data-modifying WITH).
 */
export function triggerStatements(table: Pick<DataTable, 'schema' | 'name' | 'triggers' | 'triggerModes' | 'rules'>, verb: 'DISABLE' | 'ENABLE'): string[] {
  const mode = (m: string | undefined) => (verb === 'DISABLE' ? '' : ({ A: 'ALWAYS ', R: 'REPLICA ' } as Record<string, string>)[m ?? 'O'] ?? '');
  return [
    ...table.triggers.map((g) => `ALTER TABLE ${qualified(table)} ${verb} ${mode(table.triggerModes?.[g])}TRIGGER ${quoteIdent(g)};`),
    ...Object.entries(table.rules ?? {}).map(([r, m]) => `ALTER TABLE ${qualified(table)} ${verb} ${mode(m)}RULE ${quoteIdent(r)};`),
  ];
}


/** The table has user triggers or rules that a script holds off (and so needs the table's ownership). */
export const holdsOff = (t: DataTable): boolean => t.triggers.length > 0 || Object.keys(t.rules ?? {}).length > 0;

/** Tables in foreign-key order: a table after every table it references (cycles keep their catalog order). */
export function foreignKeyOrder(tables: readonly DataTable[]): DataTable[] {
  const byId = new Map(tables.map((t) => [tableId(t), t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const order: DataTable[] = [];
  const visit = (t: DataTable) => {
    const id = tableId(t);
    if (done.has(id) || visiting.has(id)) return;
    visiting.add(id);
    for (const ref of t.references) {
      const parent = byId.get(ref);
      if (parent && ref !== id) visit(parent);
    }
    visiting.delete(id);
    done.add(id);
    order.push(t);
  };
  for (const t of tables) visit(t);
  return order;
}

export interface TableDml {
  readonly table: DataTable;
  readonly inserts: string[];
  readonly updates: string[];
  readonly deletes: string[];
}

/**
 * The statements that make `a`'s rows of one table equal `b`'s: rows b has that a lacks are
 * inserted, rows whose columns differ updated (only the columns that differ), rows a has that b
 * lacks deleted. Generated columns are never written; identity columns that refuse values get
 * OVERRIDING SYSTEM VALUE.
 */
export async function tableDml(a: Side, b: Side, diff: TableDiff): Promise<TableDml> {
  const plan = diff.plan;
  const table = a.catalog.tables.get(tableId(plan))!;
  const typeOf = (c: string) => table.columns.find((x) => x.name === c)!.type;
  const writable = plan.columns.filter((c) => !table.columns.find((x) => x.name === c)!.generated);
  const overriding = table.columns.some((c) => c.identityAlways && writable.includes(c.name)) ? ' OVERRIDING SYSTEM VALUE' : '';
  const target = qualified(plan);
  const insert = (row: readonly (string | null)[]) =>
    `INSERT INTO ${target} (${writable.map(quoteIdent).join(', ')})${overriding} VALUES (${writable.map((c) => sqlValue(row[plan.columns.indexOf(c)]!, typeOf(c))).join(', ')});`;
  const equality = keyEquality(table, plan);
  const keyWhere = (key: KeyTuple) => plan.key.map((k, i) => `${quoteIdent(k)} ${equality[i]} ${sqlValue(key[i]!, typeOf(k))}`).join(' AND ');

  if (plan.match === 'rows') {
    // A row is its own key: compared as text, column by column, so types without equality (json) work too.
    const rowWhere = (row: KeyTuple) => plan.columns.map((c, i) => `${byteText(quoteIdent(c))} IS NOT DISTINCT FROM ${row[i] === null ? 'NULL' : quoteLiteral(row[i]!)}`).join(' AND ');
    return {
      table,
      inserts: diff.added.flatMap((row, i) => Array.from({ length: diff.addedCount![i]! }, () => insert(row))),
      updates: [],
      deletes: diff.removed.map((row, i) => `DELETE FROM ${target} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${target} WHERE ${rowWhere(row)} LIMIT ${diff.removedCount![i]}));`),
    };
  }

  const [newRows, before, after] = await Promise.all([
    fetchRows(b, plan, diff.added),
    fetchRows(a, plan, diff.changed),
    fetchRows(b, plan, diff.changed),
  ]);
  const updates: string[] = [];
  for (const key of diff.changed) {
    const id = JSON.stringify(key);
    const [old, next] = [before.get(id), after.get(id)];
    if (!old || !next) continue; // gone since it was compared
    const sets = writable.filter((c) => old[plan.columns.indexOf(c)] !== next[plan.columns.indexOf(c)]);
    if (sets.length === 0) continue; // only generated columns differ; they follow
    updates.push(`UPDATE ${target} SET ${sets.map((c) => `${quoteIdent(c)} = ${sqlValue(next[plan.columns.indexOf(c)]!, typeOf(c))}`).join(', ')} WHERE ${keyWhere(key)};`);
  }
  return {
    table,
    inserts: diff.added.map((key) => newRows.get(JSON.stringify(key))).filter((r) => r !== undefined).map(insert),
    updates,
    deletes: diff.removed.map((key) => `DELETE FROM ${target} WHERE ${keyWhere(key)};`),
  };
}

/** `SELECT setval(…)` for every sequence both sides have whose state differs, to b's state. */
export async function sequenceDml(a: Side, b: Side): Promise<string[]> {
  const inB = new Set(b.catalog.sequences.map(tableId));
  const out: string[] = [];
  for (const seq of a.catalog.sequences.filter((s) => inB.has(tableId(s)))) {
    const sql = `SELECT last_value::text AS last_value, is_called FROM ${qualified(seq)}`;
    const [ra, rb] = await Promise.all([a.client.query<{ last_value: string; is_called: boolean }>(sql), b.client.query<{ last_value: string; is_called: boolean }>(sql)]);
    const [sa, sb] = [ra.rows[0]!, rb.rows[0]!];
    if (sa.last_value === sb.last_value && sa.is_called === sb.is_called) continue;
    out.push(`SELECT pg_catalog.setval(${quoteLiteral(qualified(seq))}, ${sb.last_value}, ${sb.is_called});`);
  }
  return out;
}

/**
 * The whole script from statements already written (merge's form): user triggers held off (by name,
 * so triggers already disabled stay so), then inserts parents first, updates parents first, deletes
 * children first; sequences last. One transaction. `writeDataMigration` writes the data diff's own
 * script in a form that also survives unique values moving between rows (see there).
 */
export function renderDml(header: string, tables: readonly TableDml[], sequences: readonly string[], options: { transaction?: boolean } = {}): string {
  const touched = tables.filter((t) => t.inserts.length + t.updates.length + t.deletes.length > 0);
  if (touched.length === 0 && sequences.length === 0) return `-- ${header}\n-- No data differences.\n`;
  const ordered = foreignKeyOrder(touched.map((t) => t.table)).map((table) => touched.find((t) => t.table === table)!);
  const transaction = options.transaction !== false;
  const lines = [`-- ${header}`, ...(transaction ? ['BEGIN;'] : [])];
  lines.push(scriptSettings());
  const add = (xs: readonly string[]) => {
    // One push per line: a spread of 150,000 statements overflows the call stack.
    for (const x of xs) lines.push(x);
  };
  const triggers = (verb: 'DISABLE' | 'ENABLE') => ordered.flatMap((t) => triggerStatements(t.table, verb));
  add(triggers('DISABLE'));
  for (const t of ordered) if (t.inserts.length) { lines.push(`-- ${noted(t.table)}: ${t.inserts.length} row(s) inserted`); add(t.inserts); }
  for (const t of ordered) if (t.updates.length) { lines.push(`-- ${noted(t.table)}: ${t.updates.length} row(s) updated`); add(t.updates); }
  for (const t of [...ordered].reverse()) if (t.deletes.length) { lines.push(`-- ${noted(t.table)}: ${t.deletes.length} row(s) deleted`); add(t.deletes); }
  lines.push(CHECK_NOW);
  add(triggers('ENABLE'));
  if (sequences.length) { lines.push('-- sequences'); add(sequences); }
  if (transaction) lines.push('COMMIT;');
  return `${lines.join('\n')}\n`;
}

/**
 * What every script of rows sets at its top, inside its transaction: the settings its values are
 * written in (whatever the applying session has set), and deferrable constraints deferred to COMMIT.
 * With `searchPath` (the second database's own, OWN_SEARCH_PATH_SQL), search_path is pg_catalog then it.
 */
export function scriptSettings(searchPath?: string): string {
  return [
    '-- the settings the values below are written in, until the end of the transaction (the script is UTF-8)',
    "SET LOCAL client_encoding = 'UTF8';",
    valueSettingsSql({ local: true }),
    ...(searchPath === undefined ? [] : [
      "-- pg_catalog first, then the database's own path: its CHECKs' functions may name tables unqualified (all here is qualified)",
      ownSearchPathSql(searchPath, { local: true }),
    ]),
    '-- constraints declared DEFERRABLE are checked at COMMIT',
    'SET CONSTRAINTS ALL DEFERRED;',
  ].join('\n');
}

/**
 * Before the script's closing ALTER TABLEs (triggers enabled again, identities made ALWAYS again): the
 * deferred checks its rows left pending are run now, as COMMIT would (every table holds its final rows).
 * PostgreSQL refuses to ALTER a table with trigger events pending (55006), which a deferred foreign-key
 * check is.
 */
export const CHECK_NOW = '-- the deferred checks run now (no ALTER TABLE on a table with checks pending)\nSET CONSTRAINTS ALL IMMEDIATE;';

/** Where a script is written, a piece at a time (a file, stdout): `write` resolves once it may be called again. */
export interface DmlSink {
  write(text: string): Promise<void>;
}


/** A value typed even when NULL (in a VALUES list, an untyped NULL column would be text). */
const typedValue = (text: string | null, type: string, bytes?: boolean) => (text === null ? `NULL::${type}` : sqlValue(text, type, bytes));

/** Tables of the catalog some foreign key points at (a self-reference included). */
function referencedTables(catalog: Side['catalog']): Set<string> {
  const out = new Set<string>();
  for (const t of catalog.tables.values()) for (const r of t.references) out.add(r);
  return out;
}

/**
 * `xs` in arrays of `size` (the last shorter), read as they come: a packed key list is never unpacked
 * whole. With `weight`, an array also ends once the weights of its items reach `most` (a whole row's
 * characters: a batch's statement stays a string JavaScript can hold).
 */
function* chunks<T>(xs: Iterable<T>, size: number, weight?: (x: T) => number, most = Infinity): Generator<T[]> {
  let batch: T[] = [];
  let total = 0;
  for (const x of xs) {
    batch.push(x);
    total += weight ? weight(x) : 0;
    if (batch.length >= size || total >= most) {
      yield batch;
      batch = [];
      total = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Writes the script that makes `a`'s rows equal `b`'s, streamed to `sink`: the rows are read from `b`
 * a batch at a time, so memory does not grow with the number of rows that differ. Its form is chosen
 * so that it applies whatever moves between rows:
 *
 * 1. Children first, the rows that go from tables no foreign key points at: removed rows and changed
 *    rows (those are deleted and inserted again, so a unique value two rows swap, or a key that
 *    changes beside another UNIQUE column, is free before it is taken again).
 * 2. The tables foreign keys point at, all in ONE statement (data-modifying WITH steps, each waiting on
 *    the one before): their removed and changed rows deleted children first, then their changed rows
 *    inserted again and their added rows inserted, parents first. Foreign keys are checked, and their
 *    actions run, at the end of a statement, when every one of these tables holds b's rows: a row may
 *    move to another parent before that parent goes, tables may reference each other in a cycle, and
 *    a unique value may move between rows. A table whose rows a foreign key acts on when deleted
 *    (CASCADE, SET NULL, SET DEFAULT, RESTRICT) has its changed rows updated in place instead, in the
 *    same statement; unless a unique value may move between them: then its acting children are set
 *    aside (stashPlan), or the acting foreign keys lifted around the script (Stash.lift). A table with
 *    a NOT VALID foreign key of its own (rows may violate it: an INSERT would be checked) is in that
 *    statement too, updated in place; unless a unique value may move between its rows: then its NOT
 *    VALID keys are lifted (added again NOT VALID) and its changed rows deleted and inserted again.
 * 3. Parents first, the rows that come to tables no foreign key points at.
 *
 * Deferrable constraints are deferred, and checked (CHECK_NOW) before the closing ALTER TABLEs; user
 * triggers, and the database's event triggers, are held off around it all.
 */
export async function writeDataMigration(a: Side, b: Side, diffs: readonly TableDiff<Keys>[], sequences: readonly string[], header: string, sink: DmlSink, options: { transaction?: boolean } = {}): Promise<void> {
  const touched = diffs.filter((d) => d.added.length + d.removed.length + d.changed.length > 0);
  const transaction = options.transaction !== false;
  await sink.write(`-- ${header}\n`);
  if (touched.length === 0 && sequences.length === 0) {
    await sink.write('-- No data differences.\n');
    return;
  }
  const byTable = new Map(touched.map((d) => [tableId(d.plan), d]));
  const ordered = foreignKeyOrder(touched.map((d) => a.catalog.tables.get(tableId(d.plan))!));
  const referenced = referencedTables(a.catalog);
  // A table a foreign key points at has a key (a foreign key needs one): its changes go into one statement.
  // So does a table with a NOT VALID foreign key: its changed rows are updated in place there (see inPlace).
  const together = (t: DataTable) => (referenced.has(tableId(t)) || t.notValidReferences === true) && byTable.get(tableId(t))!.plan.match !== 'rows';
  const stashes = stashPlan(a, ordered.filter(together), byTable, referenced);
  const children = [...new Set(stashes.flatMap((st) => st.keys.map((k) => k.child)))].map((id) => a.catalog.tables.get(id)!).filter((c) => !ordered.includes(c));
  const stashedTables = new Set(stashes.map((st) => st.table));
  // A table whose rows are deleted and inserted again loses its own NOT VALID keys meanwhile (they are added again NOT VALID).
  const lifted = await liftedKeys(a, stashes.filter((st) => st.lift).map((st) => st.table), [...stashedTables].filter((t) => t.notValidReferences === true));
  const altered = [...ordered, ...children].filter((t) => holdsOff(t) || (together(t) && identityInPlace(t, stashedTables)));
  const temporary = stashes.some((st) => !st.lift);
  // The script's own DDL (triggers held off, identities, keys lifted, temporary tables) holds the event triggers off too.
  const events = altered.length > 0 || stashes.length > 0 ? a.catalog.eventTriggers : undefined;
  await sink.write(privilegeNote(altered, temporary, Object.keys(events ?? {}), [...new Set(lifted.map((k) => k.child))]));
  const { rows: [own] } = await b.client.query<{ path: string }>(OWN_SEARCH_PATH_SQL);
  if (transaction) await sink.write('BEGIN;\n');
  await sink.write(`${scriptSettings(own?.path ?? '')}\n`);
  const lines = (xs: readonly string[]) => xs.map((x) => `${x}\n`).join('');
  const triggers = (verb: 'DISABLE' | 'ENABLE') => lines([...ordered, ...children].flatMap((t) => triggerStatements(t, verb)));
  await sink.write(lines(asSuperuser(eventTriggerStatements(events, 'DISABLE'))));
  await sink.write(triggers('DISABLE'));
  if (lifted.length > 0) await sink.write(`-- foreign keys acting on the deletes of rows that change, or NOT VALID ones of their tables (unique values may move between the rows): lifted, added again at the end\n${lifted.map(dropKey).join('')}`);
  for (const table of [...ordered].reverse()) if (!together(table)) await writeDeletes(a, table, byTable.get(tableId(table))!, sink);
  await writeStashes(a, stashes, byTable, sink);
  // A self-referencing table's rows set aside come back in the same statement as its own rows (each may
  // point at the other); the others' after it.
  const selfRestores = new Map<DataTable, string>();
  let n = 0;
  for (const st of stashes) {
    if (st.self) selfRestores.set(st.table, restoreSql(st.table, stashName(++n)));
    else n += st.keys.length;
  }
  const identities = await writeReferenced(b, ordered.filter(together), byTable, sink, stashedTables, selfRestores);
  await writeRestores(a, stashes, sink);
  for (const table of ordered) if (!together(table)) await writeInserts(b, table, byTable.get(tableId(table))!, sink);
  const closing = identities + lifted.map(addKey).join('') + triggers('ENABLE') + lines(asSuperuser(eventTriggerStatements(events, 'ENABLE')));
  if (closing) await sink.write(`${CHECK_NOW}\n${closing}`);
  if (sequences.length) await sink.write(`-- sequences\n${sequences.join('\n')}\n`);
  if (transaction) await sink.write('COMMIT;\n');
}


interface TableShape {
  readonly target: string;
  /** `ONLY target`: the table's own rows, for DELETE, UPDATE and reads (an inheritance child's rows are the child's). */
  readonly own: string;
  readonly typeOf: (c: string) => string;
  readonly writable: readonly string[];
  readonly overriding: string;
  /** `t.key1 OP v.c0 AND …`, with each key column's own equality operator. */
  readonly keyJoin: string;
  /** Texts travel as their bytes (Side.bytes). */
  readonly bytes?: boolean;
}

function shapeOf(table: DataTable, plan: TablePlan, bytes?: boolean): TableShape {
  const typeOf = (c: string) => table.columns.find((x) => x.name === c)!.type;
  const writable = plan.columns.filter((c) => !table.columns.find((x) => x.name === c)!.generated);
  const overriding = table.columns.some((c) => c.identityAlways && writable.includes(c.name)) ? ' OVERRIDING SYSTEM VALUE' : '';
  const equality = keyEquality(table, plan);
  const keyJoin = plan.key.map((c, i) => `t.${quoteIdent(c)} ${equality[i]} v.c${i}`).join(' AND ');
  return { target: qualified(table), own: `ONLY ${qualified(table)}`, typeOf, writable, overriding, keyJoin, ...(bytes ? { bytes } : {}) };
}

const keyValues = (plan: TablePlan, shape: TableShape) => (k: KeyTuple) => `(${plan.key.map((c, i) => typedValue(k[i]!, shape.typeOf(c), shape.bytes)).join(', ')})`;
const aliases = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join(', ');

async function writeDeletes(side: Side, table: DataTable, diff: TableDiff<Keys>, sink: DmlSink): Promise<void> {
  const plan = diff.plan;
  const shape = shapeOf(table, plan, side.bytes);
  const { own } = shape;
  if (plan.match === 'rows') {
    if (diff.removed.length === 0) return;
    await sink.write(`-- ${noted(table)}: ${diff.removed.length} distinct row(s) deleted\n`);
    // A row is its own key: compared as text, column by column, so types without equality (json) work too.
    const rowWhere = (row: KeyTuple) => plan.columns.map((c, i) => `${byteText(quoteIdent(c))} IS NOT DISTINCT FROM ${row[i] === null ? 'NULL' : textLiteral(row[i]!, side.bytes)}`).join(' AND ') || 'true';
    let i = 0;
    for (const row of diff.removed) {
      const copies = diff.removedCount![i++];
      await sink.write(`DELETE FROM ${own} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${own} WHERE ${rowWhere(row)} LIMIT ${copies}));\n`);
    }
    return;
  }
  if (diff.removed.length + diff.changed.length === 0) return;
  const what = diff.changed.length === 0 ? `${diff.removed.length} row(s) deleted` : `${diff.removed.length} row(s) deleted, ${diff.changed.length} changed row(s) deleted to be inserted again`;
  await sink.write(`-- ${noted(table)}: ${what}\n`);
  for await (const { text } of renderedKeys(side, plan, shape, [diff.removed, diff.changed])) {
    await sink.write(`DELETE FROM ${own} AS t USING (VALUES\n  ${text}) AS v(${aliases(plan.key.length)}) WHERE ${shape.keyJoin};\n`);
  }
}

async function writeInserts(b: Side, table: DataTable, diff: TableDiff<Keys>, sink: DmlSink): Promise<void> {
  const plan = diff.plan;
  const { target, typeOf, writable, overriding } = shapeOf(table, plan, b.bytes);
  const columnList = writable.map(quoteIdent).join(', ');
  const rowValues = (row: readonly (string | null)[]) => `(${writable.map((c) => typedValue(row[plan.columns.indexOf(c)]!, typeOf(c), b.bytes)).join(', ')})`;
  const insertOf = (rows: readonly (readonly (string | null)[])[]) => (writable.length === 0
    // Nothing to write (no columns, or only generated ones): as many rows of defaults.
    ? `INSERT INTO ${target} SELECT FROM pg_catalog.generate_series(1, ${rows.length});\n`
    : `INSERT INTO ${target} (${columnList})${overriding} VALUES\n  ${rows.map(rowValues).join(',\n  ')};\n`);
  if (plan.match === 'rows') {
    if (diff.added.length === 0) return;
    await sink.write(`-- ${noted(table)}: ${diff.added.length} distinct row(s) inserted\n`);
    const counts = diff.addedCount!;
    const rows = (function* () { let i = 0; for (const row of diff.added) for (let n = counts[i++]!; n > 0; n--) yield row; })();
    const width = (row: KeyTuple) => row.reduce((n, v) => n + (v?.length ?? 4), 0);
    for (const batch of chunks(rows, STATEMENT_ROWS, width, PIECE_CHARS)) await sink.write(insertOf(batch));
    return;
  }
  const count = diff.added.length + diff.changed.length;
  if (count === 0) return;
  await sink.write(`-- ${noted(table)}: ${count} row(s) inserted\n`);
  if (writable.length === 0) {
    for await (const rows of rowBatches(b, plan, concatKeys(diff.added, diff.changed))) if (rows.length > 0) await sink.write(insertOf(rows));
    return;
  }
  let open = false;
  for await (const { text, start } of renderedBatches(b, plan, [diff.added, diff.changed], writable)) {
    // A batch is one statement, written as its pieces come.
    if (start) await sink.write(`${open ? ';\n' : ''}INSERT INTO ${target} (${columnList})${overriding} VALUES\n  `);
    open = true;
    await sink.write(text);
  }
  if (open) await sink.write(';\n');
}

/**
 * One statement of data-modifying WITH steps, written a piece at a time: step n+1 waits on step n
 * (`(SELECT count(*) FROM sn) >= 0`, a one-time filter evaluated before its first row), so the steps
 * run in the order written.
 */
class ChainedStatement {
  private steps = 0;
  constructor(private readonly sink: DmlSink) {}

  /** A step whose VALUES rows come in batches: `head` VALUES rows `tail(gate)`; skipped when no row comes. */
  async step(comment: string, head: string, batches: AsyncIterable<Rendered>, tail: (gate: string) => string): Promise<void> {
    const gate = this.steps === 0 ? 'true' : `(SELECT count(*) FROM s${this.steps}) >= 0`;
    let started = false;
    for await (const { text, start } of batches) {
      const opening = `${this.steps === 0 ? 'WITH' : ','}\n-- ${commentText(comment)}\ns${this.steps + 1} AS (${head}\n  `;
      await this.sink.write(`${!started ? opening : start ? ',\n  ' : ''}${text}`);
      started = true;
    }
    if (!started) return;
    await this.sink.write(`${tail(gate)} RETURNING 1)`);
    this.steps++;
  }

  /** The statement the steps hang on: it waits for the last one and changes nothing itself. */
  /** A step of its own SQL (`body(gate)`, a data-modifying statement without RETURNING). */
  async raw(comment: string, body: (gate: string) => string): Promise<void> {
    const gate = this.steps === 0 ? 'true' : `(SELECT count(*) FROM s${this.steps}) >= 0`;
    await this.sink.write(`${this.steps === 0 ? 'WITH' : ','}\n-- ${commentText(comment)}\ns${this.steps + 1} AS (${body(gate)} RETURNING 1)`);
    this.steps++;
  }

  async end(target: string): Promise<void> {
    if (this.steps > 0) await this.sink.write(`\nDELETE FROM ${target} WHERE (SELECT count(*) FROM s${this.steps}) < 0;\n`);
  }
}

/**
 * A table whose deletes a foreign key acts on, with a unique value besides its key that changed rows
 * may swap (an update in place would collide), and whose acting foreign keys come from plain tables
 * that no foreign key points at: its changed rows are deleted and inserted again like any other's,
 * and the child rows pointing at them are set aside first (moved to a temporary table, so that the
 * delete finds no child to act on) and put back after.
 */
interface Stash {
  readonly table: DataTable;
  readonly keys: readonly ActingKey[];
  /**
   * The acting keys are the table's own (a self-reference) and no other table points at it: the rows
   * under the changed and removed ones (down every level) are set aside, and those rows themselves
   * deleted, in one statement whose cascades find nothing left to act on; they come back after.
   */
  readonly self?: boolean;
  /**
   * Neither: the acting keys come from a child that is itself referenced (its rows cannot be set aside
   * in a statement of their own), from a table of a cycle, or from a partitioned table. The keys acting
   * on it are lifted instead (dropped before the rows are written, added again at the end, validated):
   * its changed rows are deleted and inserted again with nothing acting on the deletes, in the one
   * statement, so that a unique value two rows swap (or any value a non-deferrable unique index
   * checks row by row) is free before it is taken. `keys` is then empty.
   */
  readonly lift?: boolean;
}


function stashPlan(a: Side, together: readonly DataTable[], byTable: ReadonlyMap<string, TableDiff<Keys>>, referenced: ReadonlySet<string>): Stash[] {
  const out: Stash[] = [];
  for (const table of together) {
    const diff = byTable.get(tableId(table))!;
    // Also a table with an identity column GENERATED ALWAYS: an update in place may not set it (only to DEFAULT);
    // deleted and inserted again, its value is written with OVERRIDING SYSTEM VALUE.
    const identity = table.columns.some((c) => c.identityAlways);
    if (diff.changed.length === 0 || ((table.uniqueIndexes ?? 0) < 2 && !identity)) continue;
    // A table with a NOT VALID key of its own (rows may violate it): the key is lifted (dropped, added again
    // NOT VALID), so that its changed rows are deleted and inserted again in the one statement.
    if (table.deleteActions !== true) {
      if (table.notValidReferences === true) out.push({ table, keys: [], lift: true });
      continue;
    }
    const acting = table.actedOnBy ?? [];
    const plain = table.actedOnBy !== undefined && acting.every((k) => k.child !== tableId(table) && !referenced.has(k.child) && a.catalog.tables.has(k.child));
    const self = table.actedOnBy !== undefined && acting.every((k) => k.child === tableId(table))
      && [...a.catalog.tables.values()].every((t) => t === table || !t.references.includes(tableId(table)));
    if (plain) out.push({ table, keys: acting });
    else if (self) out.push({ table, keys: acting, self: true });
    else out.push({ table, keys: [], lift: true });
  }
  return out;
}

const stashName = (i: number) => `pg_temp.${quoteIdent(`ayb_stash_${i}`)}`;

async function writeStashes(a: Side, stashes: readonly Stash[], byTable: ReadonlyMap<string, TableDiff<Keys>>, sink: DmlSink): Promise<void> {
  let n = 0;
  for (const { table, keys, self } of stashes) {
    const diff = byTable.get(tableId(table))!;
    const plan = diff.plan;
    const shape = shapeOf(table, plan, a.bytes);
    if (self) {
      await writeSelfStash(table, plan, shape, diff, keys, stashName(++n), sink);
      continue;
    }
    for (const key of keys) {
      const child = a.catalog.tables.get(key.child)!;
      const name = stashName(++n);
      await sink.write(`-- ${commentText(key.child)}: the rows pointing at ${noted(table)}'s changed rows set aside (its deletes would act on them), put back after\n`);
      await sink.write(`CREATE TEMPORARY TABLE ${name} ON COMMIT DROP AS SELECT * FROM ${qualified(child)} WITH NO DATA;\n`);
      const link = key.columns.map((c, i) => `t.${quoteIdent(key.refColumns[i]!)} ${key.equality?.[i] ?? '='} c.${quoteIdent(c)}`).join(' AND ');
      for (const batch of chunks(diff.changed, STATEMENT_ROWS)) {
        await sink.write(`WITH d AS (DELETE FROM ONLY ${qualified(child)} AS c USING ${shape.own} AS t, (VALUES\n  ${batch.map(keyValues(plan, shape)).join(',\n  ')}) AS v(${aliases(plan.key.length)})
  WHERE ${shape.keyJoin} AND ${link} RETURNING c.*) INSERT INTO ${name} SELECT * FROM d;\n`);
      }
    }
  }
}

/**
 * A self-referencing table's set-aside: its changed and removed keys into a temporary table; then one
 * statement deletes those rows and every row under them (recursively, through each acting key), and
 * keeps the rows under them that are neither changed nor removed, to be put back.
 */
async function writeSelfStash(table: DataTable, plan: TablePlan, shape: TableShape, diff: TableDiff<Keys>, keys: readonly ActingKey[], name: string, sink: DmlSink): Promise<void> {
  const target = shape.own;
  const gone = `pg_temp.${quoteIdent(`${name.slice('pg_temp.'.length).replace(/"/g, '')}_keys`)}`;
  const equality = keyEquality(table, plan);
  const isKey = (alias: string) => plan.key.map((c, i) => `${alias}.${quoteIdent(c)} ${equality[i]} x.c${i}`).join(' AND ');
  const refs = [...new Set(keys.flatMap((k) => k.refColumns))];
  await sink.write(`-- ${noted(table)}: the rows under its changed rows (it references itself) set aside, put back after\n`);
  await sink.write(`CREATE TEMPORARY TABLE ${name} ON COMMIT DROP AS SELECT * FROM ${target} WITH NO DATA;\n`);
  await sink.write(`CREATE TEMPORARY TABLE ${gone} ON COMMIT DROP AS SELECT ${plan.key.map((c, i) => `t.${quoteIdent(c)} AS c${i}`).join(', ')} FROM ${target} AS t WITH NO DATA;\n`);
  for (const batch of chunks(concatKeys(diff.changed, diff.removed), STATEMENT_ROWS)) {
    await sink.write(`INSERT INTO ${gone} VALUES
  ${batch.map(keyValues(plan, shape)).join(',\n  ')};\n`);
  }
  // The foreign key's own equality (PK = FK), as the cascade compares: a bare `=` would be text's for citext.
  const link = (from: string) => keys.map((k) => `(${k.columns.map((c, i) => `${from}.${quoteIdent(k.refColumns[i]!)} ${k.equality?.[i] ?? '='} c.${quoteIdent(c)}`).join(' AND ')})`).join(' OR ');
  const cols = refs.map((c) => `c.${quoteIdent(c)}`).join(', ');
  await sink.write(`WITH RECURSIVE under("ayb id", ${refs.map(quoteIdent).join(', ')}) AS (
  SELECT c.ctid, ${cols} FROM ${target} AS c JOIN ${target} AS t ON ${link('t')} JOIN ${gone} AS x ON ${isKey('t')}
   WHERE NOT EXISTS (SELECT FROM ${gone} AS x WHERE ${isKey('c')})
  UNION
  SELECT c.ctid, ${cols} FROM ${target} AS c JOIN under AS u ON ${link('u')}
   WHERE NOT EXISTS (SELECT FROM ${gone} AS x WHERE ${isKey('c')})),
d AS (DELETE FROM ${target} AS c WHERE c.ctid IN (SELECT "ayb id" FROM under) OR EXISTS (SELECT FROM ${gone} AS x WHERE ${isKey('c')}) RETURNING c.*)
INSERT INTO ${name} SELECT * FROM d AS c WHERE NOT EXISTS (SELECT FROM ${gone} AS x WHERE ${isKey('c')});\n`);
}

/** The INSERT that puts a table's rows set aside back (without a WHERE, which the caller may add). */
function restoreSql(child: DataTable, name: string): string {
  const writable = child.columns.filter((c) => !c.generated).map((c) => quoteIdent(c.name));
  const overriding = child.columns.some((c) => c.identityAlways && !c.generated) ? ' OVERRIDING SYSTEM VALUE' : '';
  return writable.length === 0
    ? `INSERT INTO ${qualified(child)} SELECT FROM ${name}`
    : `INSERT INTO ${qualified(child)} (${writable.join(', ')})${overriding} SELECT ${writable.join(', ')} FROM ${name}`;
}

async function writeRestores(a: Side, stashes: readonly Stash[], sink: DmlSink): Promise<void> {
  let n = 0;
  for (const { keys, self } of stashes) {
    if (self) { n++; continue; } // put back inside the statement of the table's own rows (writeReferenced)
    for (const key of keys) {
      const child = a.catalog.tables.get(key.child)!;
      await sink.write(`-- ${commentText(key.child)}: the rows set aside put back\n${restoreSql(child, stashName(++n))};\n`);
    }
  }
}

/** Returns the statements that put the identities it made BY DEFAULT back to ALWAYS. */
async function writeReferenced(b: Side, tables: readonly DataTable[], byTable: ReadonlyMap<string, TableDiff<Keys>>, sink: DmlSink, stashed: ReadonlySet<DataTable> = new Set(), selfRestores: ReadonlyMap<DataTable, string> = new Map()): Promise<string> {
  if (tables.length === 0) return '';
  await sink.write(`-- ${tables.map(noted).join(', ')}: foreign keys point at these tables (or they have NOT VALID ones); their rows change in one statement, at whose end the foreign keys are checked\n`);
  const statement = new ChainedStatement(sink);
  const inPlace = (t: DataTable) => updatedInPlace(t, stashed);
  // An identity column GENERATED ALWAYS may only be updated to DEFAULT: made BY DEFAULT for the statement.
  const identities = tables.filter((t) => identityInPlace(t, stashed) && byTable.get(tableId(t))!.changed.length > 0);
  for (const sql of identityHeld(identities, 'BY DEFAULT')) await sink.write(`${sql};\n`);
  for (const table of [...tables].reverse()) {
    const diff = byTable.get(tableId(table))!;
    const plan = diff.plan;
    const shape = shapeOf(table, plan, b.bytes);
    const keys = inPlace(table) ? [diff.removed] : [diff.removed, diff.changed];
    const what = inPlace(table) || diff.changed.length === 0 ? `${diff.removed.length} row(s) deleted` : `${diff.removed.length} row(s) deleted, ${diff.changed.length} changed row(s) deleted to be inserted again`;
    await statement.step(`${tableLabel(table)}: ${what}`, `DELETE FROM ${shape.own} AS t USING (VALUES`,
      renderedKeys(b, plan, shape, keys),
      (gate) => `) AS v(${aliases(plan.key.length)}) WHERE ${gate} AND ${shape.keyJoin}`);
  }
  for (const table of tables) {
    const diff = byTable.get(tableId(table))!;
    const plan = diff.plan;
    const shape = shapeOf(table, plan, b.bytes);
    const { target, own, writable, overriding } = shape;
    // The key columns are set too: a key's text may change while it stays equal (numeric 1.0 → 1.00, citext's
    // case); an identity column GENERATED ALWAYS is BY DEFAULT for the statement (identityInPlace).
    const settableKey = (c: string) => writable.includes(c);
    const sets = [...plan.key.filter(settableKey), ...writable.filter((c) => !plan.key.includes(c))];
    if (inPlace(table) && sets.length > 0) {
      const columns = [...plan.key, ...sets.filter((c) => !plan.key.includes(c))];
      const why = table.deleteActions === true && !stashed.has(table) ? 'a foreign key acts on its deletes' : 'a NOT VALID foreign key of its own would check them inserted again';
      await statement.step(`${tableLabel(table)}: ${diff.changed.length} row(s) updated in place (${why})`,
        `UPDATE ${own} AS t SET ${sets.map((c) => `${quoteIdent(c)} = v.c${columns.indexOf(c)}`).join(', ')} FROM (VALUES`,
        renderedBatches(b, plan, [diff.changed], columns),
        (gate) => `) AS v(${aliases(columns.length)}) WHERE ${gate} AND ${shape.keyJoin}`);
    }
    const inserted = inPlace(table) ? [diff.added] : [diff.added, diff.changed];
    const insertedCount = diff.added.length + (inPlace(table) ? 0 : diff.changed.length);
    await statement.step(`${tableLabel(table)}: ${insertedCount} row(s) inserted`,
      `INSERT INTO ${target} (${writable.map(quoteIdent).join(', ')})${overriding} SELECT * FROM (VALUES`,
      renderedBatches(b, plan, inserted, writable),
      (gate) => `) AS v WHERE ${gate}`);
    const restore = selfRestores.get(table);
    if (restore) await statement.raw(`${tableLabel(table)}: the rows set aside put back`, (gate) => `${restore} WHERE ${gate}`);
  }
  await statement.end(qualified(tables[0]!));
  // Written by the caller at the script's end, after CHECK_NOW (an ALTER TABLE with checks pending fails).
  return identityHeld(identities, 'ALWAYS').map((sql) => `${sql};\n`).join('');
}

/**
 * A table of the one statement whose changed rows are updated in place: a foreign key acts on its
 * deletes (and its rows are not set aside), or it has a NOT VALID foreign key.
 */
function updatedInPlace(t: DataTable, stashed: ReadonlySet<DataTable>): boolean {
  return (t.deleteActions === true && !stashed.has(t)) || (t.notValidReferences === true && !stashed.has(t));
}

/**
 * An identity column GENERATED ALWAYS may only be updated to DEFAULT: for a statement that updates
 * it in place, the tables' such columns (`columns`: of those only) are made BY DEFAULT before and
 * ALWAYS again after (DDL: an owner's, as the rest of the script or the merge's migration).
 */
export function identityHeld(tables: readonly DataTable[], mode: 'BY DEFAULT' | 'ALWAYS', columns?: (t: DataTable) => ReadonlySet<string>): string[] {
  return tables.flatMap((t) => t.columns.filter((c) => c.identityAlways && !c.generated && (columns?.(t).has(c.name) ?? true))
    .map((c) => `ALTER TABLE ${qualified(t)} ALTER COLUMN ${quoteIdent(c.name)} SET GENERATED ${mode}`));
}

/** Its rows are updated in place and it has an identity column GENERATED ALWAYS (held BY DEFAULT meanwhile: DDL, an owner's). */
function identityInPlace(t: DataTable, stashed: ReadonlySet<DataTable>): boolean {
  return updatedInPlace(t, stashed) && t.columns.some((c) => c.identityAlways && !c.generated);
}

/**
 * Keys as VALUES rows (`(<literal>::type, …)`, as keyValues writes them), rendered by the server (any
 * session: the keys go and come back as text), per batch of STATEMENT_ROWS keys one text of rows
 * joined by `,\n  `: a KeyList's lines go as they are stored, and nothing per key is made in ayb.
 */
async function* renderedKeys(side: Side, plan: TablePlan, shape: TableShape, keys: readonly Keys[]): AsyncGenerator<Rendered> {
  const value = (c: string, i: number) => `coalesce(${wireLiteral(`(k.v ->> ${i})`, shape.bytes)} || ${quoteLiteral(`::${shape.typeOf(c)}`)}, ${quoteLiteral(`NULL::${shape.typeOf(c)}`)})`;
  const sql = `SELECT pg_catalog.string_agg('(' || ${plan.key.map(value).join(" || ', ' || ")} || ')', E',\\n  ' ORDER BY k.o) AS keys
                 FROM pg_catalog.json_array_elements($1::json) WITH ORDINALITY AS k(v, o)`;
  for (const { json } of jsonBatches(STATEMENT_ROWS, ...keys)) {
    const { rows } = await side.client.query<{ keys: string | null }>(sql, [json]);
    if (rows[0]?.keys) yield { text: rows[0].keys, start: true };
  }
}

/** b's rows for these keys, a batch of STATEMENT_ROWS at a time, in the keys' order (keys gone since are skipped). */
async function* rowBatches(side: Side, plan: TablePlan, keys: Iterable<KeyTuple>): AsyncGenerator<(string | null)[][]> {
  for (const batch of chunks(keys, STATEMENT_ROWS)) {
    const rows = await fetchRows(side, plan, batch);
    yield batch.map((k) => rows.get(JSON.stringify(k))).filter((r) => r !== undefined);
  }
}
