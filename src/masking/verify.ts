import { ExternalError } from '../core/errors.js';
import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import { type JsonNode, parseJson } from './functions.js';
import { type Catalog, type MaskPlan, type PlannedColumn, qualified } from './plan.js';
import { FIRST_NAMES, LAST_NAMES, STREET_KINDS, STREETS } from './vocabulary.js';

/** How many original values of each masked column are sampled from the source. */
export const SAMPLE_PER_COLUMN = 1000;
/** Shorter values and words are not searched for: they occur by chance (a postal code, "Drive"). */
const MIN_LENGTH = 6;
/** What splits a value into words, in SQL and here alike. */
const WORD_SPLIT_SQL = '[^[:alnum:]@._+-]+';
const WORD_SPLIT = /[^\p{L}\p{N}@._+-]+/u;
/** Catalog texts are split at underscores too, so that a word is not found inside customer_id. */
const CATALOG_SPLIT = /[^\p{L}\p{N}@.+-]+/u;
/** Words the masking functions themselves write: an original equal to one proves nothing. */
const VOCABULARY = new Set([...FIRST_NAMES, ...LAST_NAMES, ...STREETS, ...STREET_KINDS, 'example.com'].map((w) => w.toLowerCase()));

/** What the search looks for: whole original values (lower case), and their words. */
export interface Needles {
  readonly whole: ReadonlySet<string>;
  readonly words: ReadonlySet<string>;
  /** Original values sampled, before filtering. */
  readonly sampled: number;
}

/** What a masked copy was checked for, kept with its record (`branch show --json`). */
export interface Verification {
  /** Columns masked by a rule, a foreign key or a parent table. */
  readonly masked_columns: number;
  /** Columns recomputed by their triggers from the masked values, as table.column (trigger). */
  readonly derived_columns: readonly string[];
  /** Text-capable columns kept as they are ([masking] keep). */
  readonly kept_columns: number;
  /** Original values sampled from the source (up to 1000 per masked column). */
  readonly values_sampled: number;
  /** Columns of the copy searched, and catalog texts (comments, view and default definitions, checks, function bodies, settings, large objects). */
  readonly columns_searched: number;
  readonly catalog_texts_searched: number;
  readonly dropped: readonly string[];
  readonly masked_literals: readonly string[];
  /** Original values found in the copy: always 0 in a record, or the copy is not kept. */
  readonly hits: 0;
}

/**
 * An original that would hardly be in a kept column by chance: an email (has @), a value of several
 * words, or one that mixes letters and digits. A single word ("jennifer") is not: kept columns
 * (actors' names, say) may hold it for reasons of their own.
 */
export function distinctive(needle: string): boolean {
  return needle.includes('@') || /\s/.test(needle) || (/\p{L}/u.test(needle) && /\p{N}/u.test(needle));
}

/** Where an original was found. */
export interface Hit {
  readonly place: string;
  readonly values: number;
}

/** The words of a value worth searching for: long enough, and not words a mask writes itself. */
export function wordsOf(value: string): string[] {
  return value.toLowerCase().split(WORD_SPLIT).filter((w) => w.length >= MIN_LENGTH && !VOCABULARY.has(w) && (/\p{L}/u.test(w) || w.length >= 8));
}

/** The needles of sampled originals: whole values and words, both filtered as wordsOf says. */
export function needlesOf(values: readonly string[]): Needles {
  const whole = new Set<string>();
  const words = new Set<string>();
  for (const value of values) {
    const lower = value.trim().toLowerCase();
    const own = wordsOf(lower);
    if (lower.length >= MIN_LENGTH && (own.length > 0 || !lower.split(WORD_SPLIT).every((w) => VOCABULARY.has(w)))) whole.add(lower);
    for (const w of own) words.add(w);
  }
  return { whole, words, sampled: values.length };
}

/** The scalars under json_keys' keys: the originals of a json column. */
function jsonOriginals(node: JsonNode, keys: readonly string[], under: boolean, out: string[]): void {
  switch (node.kind) {
    case 'object':
      for (const [k, v] of node.entries) jsonOriginals(v, keys, under || keys.includes(k), out);
      return;
    case 'array':
      for (const item of node.items) jsonOriginals(item, keys, under, out);
      return;
    case 'null':
      return;
    default:
      if (under) out.push(node.kind === 'string' ? node.value : node.raw);
  }
}

/** Whether a column's originals are searched for: a shifted date may equal another original, by design. */
function searchable(column: PlannedColumn): boolean {
  return column.mask.kind === 'sql' || (column.mask.kind === 'function' && column.mask.function !== 'date_shift');
}

const STREET_FORMAT = new RegExp(`^\\d{1,4} (${STREETS.join('|')}) (${STREET_KINDS.join('|')})$`, 'i');

/**
 * An original the column's own mask could write for another row: a short value under a
 * format-keeping scramble (phone, redact: a 7-digit number comes out as another 7-digit number), an
 * address in the very format `address` writes. Finding one proves nothing, so it is not searched for.
 */
export function couldBeOutput(mask: PlannedColumn['mask'], value: string): boolean {
  if (mask.kind !== 'function') return false;
  if (mask.function === 'phone' || mask.function === 'redact') return (value.match(/[\p{L}\p{N}]/gu) ?? []).length < 10;
  if (mask.function === 'address') return STREET_FORMAT.test(value.trim());
  return false;
}

/** Samples up to SAMPLE_PER_COLUMN original values of every masked column of `plan`, on the source. */
export async function sampleOriginals(source: Client, plan: MaskPlan): Promise<Needles> {
  const values: string[] = [];
  for (const table of plan.tables) {
    if (table.relkind === 'p') continue;
    for (const column of table.columns) {
      if (!searchable(column)) continue;
      const { rows } = await source.query<{ v: string }>(
        `SELECT DISTINCT ${quoteIdent(column.column)}::text AS v FROM ONLY ${quoteIdent(table.schema)}.${quoteIdent(table.table)}
          WHERE ${quoteIdent(column.column)} IS NOT NULL LIMIT ${SAMPLE_PER_COLUMN}`,
      );
      const mask = column.mask;
      for (const { v } of rows) {
        if (mask.kind === 'function' && mask.function === 'json_keys') {
          try {
            jsonOriginals(parseJson(v), mask.args.keys as string[], false, values);
          } catch {
            values.push(v);
          }
        } else if (!(mask.kind === 'function' && mask.function === 'constant' && String(mask.args.value) === v) && !couldBeOutput(mask, v)) {
          values.push(v);
        }
      }
    }
  }
  return needlesOf(values);
}

/**
 * Searches the copy for the sampled originals: the masked columns (whole values), the other columns
 * of their tables that are not plain strings (tsvector, json, xml, arrays: their words), and the
 * catalog texts a value can hide in (comments, view, default and check definitions, function
 * bodies, database and role settings, large objects: whole values as substrings, words as words).
 * Every other column that can hold text (kept ones, and those of tables without a masked column) is
 * searched for the distinctive originals only (see `distinctive`): whole values for strings, words
 * for the rest, so that a kept column a trigger or a rule filled with originals (an audit table)
 * fails the copy, while a kept first name that happens to equal a customer's does not.
 */
export async function searchCopy(target: Client, database: string, plan: MaskPlan, catalog: Catalog, needles: Needles): Promise<{ hits: Hit[]; columns: number; texts: number }> {
  const hits: Hit[] = [];
  let columns = 0;
  const whole = [...needles.whole];
  const words = [...needles.words];
  const everything = [...whole, ...words];
  const rareWhole = whole.filter(distinctive);
  const rareEverything = everything.filter(distinctive);
  const plannedTables = new Map(plan.tables.map((t) => [qualified(t), new Map(t.columns.map((c) => [c.column, c]))]));
  for (const relation of [...catalog.relations.values()].sort((a, b) => qualified(a).localeCompare(qualified(b)))) {
    if (relation.relkind === 'p') continue;
    const planned = plannedTables.get(qualified(relation));
    const rel = `ONLY ${quoteIdent(relation.schema)}.${quoteIdent(relation.table)}`;
    for (const column of catalog.columns.get(relation.oid) ?? []) {
      if (!column.textCapable) continue;
      const mask = planned?.get(column.name)?.mask;
      const col = quoteIdent(column.name);
      const wholeSql = `SELECT count(DISTINCT lower(${col}::text))::int AS n FROM ${rel} WHERE lower(${col}::text) = ANY($1::text[])`;
      const wordSql = `SELECT count(DISTINCT w)::int AS n FROM ${rel} CROSS JOIN LATERAL regexp_split_to_table(lower(${col}::text), '${WORD_SPLIT_SQL}') AS w WHERE w = ANY($1::text[])`;
      let query: { sql: string; needles: string[] } | undefined;
      if (mask && mask.kind !== 'derived' && column.category === 'S') query = { sql: wholeSql, needles: whole };
      else if (planned && (mask || column.category !== 'S')) query = { sql: wordSql, needles: everything };
      else if (column.category === 'S') query = { sql: wholeSql, needles: rareWhole };
      else query = { sql: wordSql, needles: rareEverything };
      if (query.needles.length === 0) continue;
      columns++;
      const { rows } = await target.query<{ n: number }>(query.sql, [query.needles]);
      if ((rows[0]?.n ?? 0) > 0) hits.push({ place: `${qualified(relation)}.${column.name}`, values: rows[0]!.n });
    }
  }

  const { rows: texts } = await target.query<{ place: string; text: string | null }>(
    `SELECT 'comment on ' || coalesce(pg_describe_object(classoid, objoid, objsubid), objoid::text) AS place, description AS text FROM pg_description WHERE objoid >= 16384
     UNION ALL SELECT 'the database comment', shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1
     UNION ALL SELECT 'database or role setting', array_to_string(s.setconfig, ' ') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1
     UNION ALL SELECT 'view ' || c.oid::regclass::text, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     UNION ALL SELECT 'default of ' || d.adrelid::regclass::text || '.' || a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid >= 16384
     UNION ALL SELECT 'constraint ' || conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND oid >= 16384
     UNION ALL SELECT 'function ' || p.oid::regprocedure::text, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE p.oid >= 16384 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     UNION ALL SELECT 'rule ' || r.rulename || ' on ' || r.ev_class::regclass::text, pg_get_ruledef(r.oid) FROM pg_rewrite r
                WHERE r.oid >= 16384 AND r.rulename <> '_RETURN'
     UNION ALL SELECT 'index ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indexrelid >= 16384
     UNION ALL SELECT 'policy ' || p.polname || ' on ' || p.polrelid::regclass::text,
                      concat_ws(' ', pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)) FROM pg_policy p
     UNION ALL SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal
     UNION ALL SELECT 'enum label of ' || e.enumtypid::regtype::text, e.enumlabel FROM pg_enum e WHERE e.enumtypid >= 16384
     UNION ALL SELECT 'statistics object ' || s.stxname, pg_get_statisticsobjdef(s.oid) FROM pg_statistic_ext s WHERE s.oid >= 16384`,
    [database],
  );
  // Large objects kept ([masking] keep_catalog): their data is searched too (pg_largeobject is a superuser's to read).
  const { rows: objects } = await target.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata');
  if ((objects[0]?.n ?? 0) > 0) {
    texts.push(...(await target.query<{ place: string; text: string | null }>(`SELECT 'large object ' || loid::text AS place, encode(data, 'escape') AS text FROM pg_largeobject`)).rows);
  }
  const found = new Map<string, number>();
  for (const { place, text } of texts) {
    if (!text) continue;
    // Whole values anywhere in the text; words only as words of it.
    const lower = text.toLowerCase();
    const tokens = new Set(lower.split(CATALOG_SPLIT));
    const n = whole.filter((needle) => lower.includes(needle)).length + words.filter((w) => tokens.has(w) && !needles.whole.has(w)).length;
    if (n > 0) found.set(place, (found.get(place) ?? 0) + n);
  }
  for (const [place, values] of found) hits.push({ place, values });
  return { hits, columns, texts: texts.length };
}

/** The copy holds originals: it is dropped, and the places are named (never the values). */
export function verificationError(hits: readonly Hit[]): ExternalError {
  const list = hits.map((h) => `${h.place} (${h.values} value${h.values === 1 ? '' : 's'})`).join('; ');
  return new ExternalError('masking_verification_failed', `the masked copy still holds original values of masked columns: ${list}`, {
    hint: 'give these columns (or the objects that hold the values) a [[masking.rules]] entry, then create the copy again; the copy was dropped',
    details: { hits },
  });
}
