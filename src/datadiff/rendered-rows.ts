import { ConflictError } from '../core/errors.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { tableId, tableLabel } from './catalog.js';
import type { KeyTuple, Side, TablePlan } from './compare.js';
import { keyCondition } from './key-condition.js';
import { jsonBatches, type Keys } from './key-list.js';
import { fromWire, wireLiteral, wireText } from './value-text.js';

/** Rows per INSERT, UPDATE or DELETE statement of the streamed script (a batch of keys). */
export const STATEMENT_ROWS = 500;

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * The most characters of rendered rows ayb takes from the server in one text: a row longer than that
 * comes in pieces of this size, and a batch of rows in texts of at most twice this. A JavaScript string
 * holds at most 2^29 - 24 characters, and a wide row (a document of megabytes) times STATEMENT_ROWS is
 * more; PostgreSQL's own limit is 1 GB per value. AYB_TEST_DATA_PIECE_CHARS lowers it (tests only).
 */
export const PIECE_CHARS = Number(process.env.AYB_TEST_DATA_PIECE_CHARS) > 0 ? Math.floor(Number(process.env.AYB_TEST_DATA_PIECE_CHARS)) : 1024 * 1024;

/**
 * A piece of the text of a VALUES list, as the script writes it: `start` when a new batch of rows
 * begins with it (a statement of its own for an INSERT, `,` after the rows before it in a WITH step);
 * otherwise it continues the text before it (a row's text split in pieces, or the next rows of a batch).
 */
export interface Rendered {
  readonly text: string;
  readonly start: boolean;
}

const SEPARATOR = ',\n  ';

/**
 * b's rows for these keys, `columns` of each as a VALUES row (`(<literal>::type, …)`, as typedValue
 * writes it), rendered by the server: per batch of STATEMENT_ROWS keys the rows joined by `,\n  `, in
 * the keys' order (keys gone since are skipped; a batch of which none is left gives nothing). The keys
 * go as one JSON value, a KeyList's lines as they are stored: nothing per row is made in ayb but what it
 * writes. The text comes in parts of at most PIECE_CHARS (a wide row in pieces, cut by the server),
 * read one at a time through a cursor, so that neither memory nor a string's limit grows with the width
 * of the rows: a batch of narrow rows is one part, read in the round trip that asks for it. Runs inside
 * the side's transaction (b's, held whole for a script).
 */
export async function* renderedBatches(side: Side, plan: TablePlan, keys: readonly Keys[], columns: readonly string[]): AsyncGenerator<Rendered> {
  const table = side.catalog.tables.get(tableId(plan))!;
  const typeOf = (c: string) => table.columns.find((x) => x.name === c)!.type;
  const value = (c: string) => `coalesce(${wireLiteral(wireText(`t.${quoteIdent(c)}`, side.bytes), side.bytes)} || ${quoteLiteral(`::${typeOf(c)}`)}, ${quoteLiteral(`NULL::${typeOf(c)}`)})`;
  const row = `'(' || ${columns.length === 0 ? "''" : columns.map(value).join(" || ', ' || ")} || ')'`;
  const join = keyCondition(table, plan.key, (i) => fromWire(`(k.v ->> ${i})`, side.bytes));
  const n = PIECE_CHARS;
  // Each row is cut into pieces of n characters (most rows: one), the first with the separator before
  // it; pieces are grouped in order by where they start (a group: at most 2n), the groups numbered.
  const size = `LEAST(r.len - g.n * ${n}, ${n})`;
  const query = (json: string) => `SELECT p.text, p.parts FROM (
      SELECT pg_catalog.string_agg(x.piece, '' ORDER BY x.o, x.n) AS text, x.part, pg_catalog.count(*) OVER () AS parts
        FROM (SELECT r.o, g.n, CASE WHEN g.n = 0 THEN ${quoteLiteral(SEPARATOR)} ELSE '' END || pg_catalog.substr(r.row, g.n * ${n} + 1, ${n}) AS piece,
                     (pg_catalog.sum(${size}) OVER (ORDER BY r.o, g.n) - ${size}) / ${n} AS part
                FROM (SELECT q.o, q.row, pg_catalog.length(q.row) AS len
                        FROM (SELECT k.o, ${row} AS row FROM pg_catalog.json_array_elements(${quoteLiteral(json)}::json) WITH ORDINALITY AS k(v, o)
                                JOIN ONLY ${qualified(plan)} t ON ${join} OFFSET 0) q) r
                CROSS JOIN LATERAL pg_catalog.generate_series(0, (r.len - 1) / ${n}) AS g(n)) x
       GROUP BY x.part) p ORDER BY p.part`;
  const cursor = 'ayb_rows';
  let open = false;
  try {
    for (const batch of jsonBatches(STATEMENT_ROWS, ...keys)) {
      let first: { text: string | null; parts: string } | undefined;
      try {
        const results = await side.client.query(`${open ? `CLOSE ${cursor}; ` : ''}DECLARE ${cursor} NO SCROLL CURSOR FOR ${query(batch.json)}; FETCH 1 FROM ${cursor}`) as unknown as { rows: { text: string | null; parts: string }[] }[];
        open = true;
        first = results[results.length - 1]!.rows[0];
      } catch (error) {
        throw rowsError(plan, batch.json, error);
      }
      if (first === undefined) continue;
      yield { text: first.text!.slice(SEPARATOR.length), start: true };
      for (let part = 1; part < Number(first.parts); part++) {
        const { rows } = await side.client.query<{ text: string }>(`FETCH 1 FROM ${cursor}`);
        yield { text: rows[0]!.text, start: false };
      }
    }
  } finally {
    if (open) await side.client.query(`CLOSE ${cursor}`).catch(() => undefined);
  }
}

/**
 * A batch of rows the server could not render (a value whose text, quoted, is beyond PostgreSQL's 1 GB
 * per value), named by table and keys rather than as a bare database error.
 */
function rowsError(plan: TablePlan, json: string, error: unknown): unknown {
  const state = (error as { code?: string } | null)?.code;
  const message = String((error as { message?: string } | null)?.message ?? '');
  if (state !== '54000' && state !== '53200' && !/invalid memory alloc request size|out of memory/i.test(message)) return error;
  const keys = JSON.parse(json) as KeyTuple[];
  const key = (k: KeyTuple) => `(${plan.key.map((c, i) => `${c} = ${k[i] === null ? 'NULL' : JSON.stringify(k[i])}`).join(', ')})`;
  const which = keys.length === 1 ? `the row ${key(keys[0]!)}` : `one of the ${keys.length} rows from ${key(keys[0]!)} to ${key(keys[keys.length - 1]!)}`;
  return new ConflictError('data_row_too_large', `cannot write ${which} of ${tableLabel(plan)} into the script: PostgreSQL could not render it as text (${message})`, {
    hint: 'a value whose text, quoted, is beyond PostgreSQL\'s 1 GB per value cannot be written as a literal: name the other tables with --table, and copy this table\'s rows another way',
    cause: error,
  });
}
