import type { MaskingRule } from '../config/schema.js';
import type { Client } from '../postgres/client.js';
import type { MaskSpec } from './functions.js';

/** A column to mask and how: a function of its own value, or (`sql`) an SQL expression over the column. */
export type ColumnMask =
  | (MaskSpec & { readonly kind: 'function' })
  | { readonly kind: 'sql'; readonly expression: string }
  /**
   * Filled by a trigger from masked columns (a tsvector of names, say): recomputed by firing that
   * trigger on the masked row. In the stream the column travels as `empty` (NULL, or an empty value
   * where it is NOT NULL) and the trigger fills it once the rows are in.
   */
  | { readonly kind: 'derived'; readonly trigger: string; readonly enabled: string; readonly empty: string | null };

export interface PlannedColumn {
  readonly column: string;
  /** format_type() of the column, to cast the masked text back. */
  readonly type: string;
  /** A string type (text, varchar, char): assigned as text, so a too-long value fails instead of being cut. */
  readonly stringType: boolean;
  readonly mask: ColumnMask;
  /** Why it is masked: `rule`, `foreign key to public.customer.email`, or `partition of public.payment`. */
  readonly via: string;
}

export interface PlannedTable {
  readonly schema: string;
  readonly table: string;
  /** `r` table, `p` partitioned table (no rows of its own). */
  readonly relkind: string;
  readonly columns: readonly PlannedColumn[];
}

/** A column that can carry text (text, varchar, json, tsvector, bytea …) that no rule masks and nothing keeps. */
export interface UncoveredColumn {
  readonly table: string;
  readonly column: string;
  readonly type: string;
}

export interface RuleProblem {
  readonly table: string;
  readonly column: string;
  readonly function: string;
  readonly problem: string;
}

export interface MaskPlan {
  /** Every relation with a column to mask: rule tables, tables whose foreign keys point at a masked column, partitions and inheritance children. */
  readonly tables: readonly PlannedTable[];
  /** Rules that name a missing table or column, or cannot apply to the column's type. */
  readonly problems: readonly RuleProblem[];
}

/** `customer` → public.customer; `app.users` → app.users. */
export function ruleTable(rule: Pick<MaskingRule, 'table'>): { schema: string; table: string } {
  const dot = rule.table.indexOf('.');
  return dot < 0 ? { schema: 'public', table: rule.table } : { schema: rule.table.slice(0, dot), table: rule.table.slice(dot + 1) };
}

export const qualified = (t: { schema: string; table: string }) => `${t.schema}.${t.table}`;

/** Functions of a string value; everything else masks other types. */
const STRING_FUNCTIONS = new Set(['email', 'name', 'first_name', 'last_name', 'phone', 'address', 'hash', 'redact']);
/** Functions that pick from small vocabularies: on a unique column they get a keyed suffix. */
const VOCABULARY_FUNCTIONS = new Set(['name', 'first_name', 'last_name', 'phone', 'address']);

interface CatalogColumn {
  readonly relid: number;
  readonly attnum: number;
  readonly name: string;
  readonly type: string;
  readonly base: string;
  readonly category: string;
  readonly notnull: boolean;
  readonly generated: boolean;
  /** Can hold text: a string type, json, jsonb, xml, tsvector, tsquery, bytea, or an array, domain or composite of one. */
  readonly textCapable: boolean;
}

/** A user trigger, with what masking needs to tell whether it derives a column from masked ones. */
interface CatalogTrigger {
  readonly relid: number;
  readonly name: string;
  /** pg_trigger.tgenabled: O (on), A (always), R (replica only), D (off). */
  readonly enabled: string;
  readonly type: number;
  readonly func: string;
  readonly src: string;
  readonly args: readonly string[];
}

interface Relation {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly relkind: string;
}

/** The user tables of a database, with what masking needs to know about them. */
export interface Catalog {
  readonly relations: ReadonlyMap<number, Relation>;
  readonly byName: ReadonlyMap<string, Relation>;
  readonly columns: ReadonlyMap<number, readonly CatalogColumn[]>;
  /** relid → attnums in some unique index or primary key. */
  readonly uniqueColumns: ReadonlyMap<number, ReadonlySet<number>>;
  readonly foreignKeys: readonly { conrelid: number; conkey: number[]; confrelid: number; confkey: number[] }[];
  /** parent → children (partitions and inheritance). */
  readonly children: ReadonlyMap<number, readonly number[]>;
  /** relid → names of the columns its rows are partitioned by (its own key and its ancestors'). */
  readonly partitionKeys: ReadonlyMap<number, ReadonlySet<string>>;
  /** relid → its user triggers. */
  readonly triggers: ReadonlyMap<number, readonly CatalogTrigger[]>;
}

export async function readCatalog(client: Client): Promise<Catalog> {
  const userRelations = `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind
                           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_ayb_mask')
                            AND n.nspname NOT LIKE 'pg\\_%'`;
  // One after the other: a client runs one query at a time.
  const relations = await client.query<Relation>(userRelations);
  const [columns, unique, fks, inherits, keys, types, triggers] = [
    await client.query<Omit<CatalogColumn, 'textCapable'> & { typid: number }>(
      `SELECT a.attrelid::int AS relid, a.attnum::int AS attnum, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS typid,
              coalesce(b.typname, t.typname) AS base, t.typcategory::text AS category, a.attnotnull AS notnull, a.attgenerated <> '' AS generated
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype
        WHERE a.attrelid IN (SELECT oid FROM (${userRelations}) r) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attrelid, a.attnum`,
    ),
    await client.query<{ relid: number; keys: number[] }>(`SELECT indrelid::int AS relid, indkey::int2[]::int[] AS keys FROM pg_index WHERE indisunique`),
    await client.query<{ conrelid: number; conkey: number[]; confrelid: number; confkey: number[] }>(
      `SELECT conrelid::int AS conrelid, conkey::int[] AS conkey, confrelid::int AS confrelid, confkey::int[] AS confkey FROM pg_constraint WHERE contype = 'f'`,
    ),
    await client.query<{ child: number; parent: number }>(`SELECT inhrelid::int AS child, inhparent::int AS parent FROM pg_inherits`),
    await client.query<{ relid: number; name: string }>(
      `SELECT p.partrelid::int AS relid, a.attname AS name FROM pg_partitioned_table p
         JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = ANY(p.partattrs::int2[])`,
    ),
    await client.query<PgType>(`SELECT oid::int AS oid, typname AS name, typtype::text AS typtype, typcategory::text AS category, typbasetype::int AS base, typelem::int AS elem FROM pg_type`),
    await client.query<{ relid: number; name: string; enabled: string; type: number; func: string; src: string; args: string | null }>(
      `SELECT t.tgrelid::int AS relid, t.tgname AS name, t.tgenabled::text AS enabled, t.tgtype::int AS type, p.proname AS func, p.prosrc AS src,
              encode(t.tgargs, 'escape') AS args
         FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal`,
    ),
  ];
  const typeMap = new Map(types.rows.map((t) => [t.oid, t]));
  const triggerMap = new Map<number, CatalogTrigger[]>();
  for (const t of triggers.rows) {
    const args = t.args === null || t.args === '' ? [] : t.args.split('\\000').filter((a, i, all) => i < all.length - 1 || a !== '');
    triggerMap.set(t.relid, [...(triggerMap.get(t.relid) ?? []), { ...t, args }]);
  }
  const byOid = new Map(relations.rows.map((r) => [r.oid, r]));
  const columnMap = new Map<number, CatalogColumn[]>();
  for (const { typid, ...c } of columns.rows) columnMap.set(c.relid, [...(columnMap.get(c.relid) ?? []), { ...c, textCapable: textCapable(typeMap, typid) }]);
  const uniqueColumns = new Map<number, Set<number>>();
  for (const u of unique.rows) {
    const set = uniqueColumns.get(u.relid) ?? new Set<number>();
    for (const k of u.keys) if (k > 0) set.add(k);
    uniqueColumns.set(u.relid, set);
  }
  const children = new Map<number, number[]>();
  for (const i of inherits.rows) children.set(i.parent, [...(children.get(i.parent) ?? []), i.child]);
  const partitionKeys = new Map<number, Set<string>>();
  const addKeys = (relid: number, names: Iterable<string>) => {
    const set = partitionKeys.get(relid) ?? new Set<string>();
    for (const n of names) set.add(n);
    partitionKeys.set(relid, set);
    for (const child of children.get(relid) ?? []) addKeys(child, set);
  };
  for (const k of keys.rows) addKeys(k.relid, [k.name]);
  return {
    relations: byOid,
    byName: new Map(relations.rows.map((r) => [qualified(r), r])),
    columns: columnMap,
    uniqueColumns,
    foreignKeys: fks.rows.filter((fk) => byOid.has(fk.conrelid) && byOid.has(fk.confrelid)),
    children,
    partitionKeys,
    triggers: triggerMap,
  };
}

interface PgType {
  readonly oid: number;
  readonly name: string;
  readonly typtype: string;
  readonly category: string;
  readonly base: number;
  readonly elem: number;
}

const TEXT_TYPES = new Set(['json', 'jsonb', 'xml', 'tsvector', 'tsquery', 'bytea']);

/** Whether a value of this type can carry text: through domains and arrays; any composite and any extension's base type, to be safe. */
function textCapable(types: ReadonlyMap<number, PgType>, oid: number, depth = 0): boolean {
  const t = types.get(oid);
  if (!t || depth > 10) return false;
  if (t.typtype === 'd') return textCapable(types, t.base, depth + 1);
  if (t.typtype === 'c') return true;
  if (t.category === 'A' && t.elem !== 0) return textCapable(types, t.elem, depth + 1);
  // A base type an extension defines (hstore, ltree …: category U, oid past the built-in ones) may hold any text: fail closed.
  if (t.typtype === 'b' && t.category === 'U' && t.oid >= FIRST_USER_OID) return true;
  return t.category === 'S' || TEXT_TYPES.has(t.name);
}

/** The first oid PostgreSQL gives to objects that are not built in (FirstNormalObjectId). */
const FIRST_USER_OID = 16384;

/** Row-level BEFORE UPDATE trigger bits of pg_trigger.tgtype. */
const TRIGGER_ROW = 1;
const TRIGGER_BEFORE = 2;
const TRIGGER_UPDATE = 16;

/**
 * The columns a trigger writes and the columns it reads: tsvector_update_trigger(target, config,
 * sources…) by its arguments; a PL/pgSQL function by its NEW.column := assignments and every
 * NEW.column it mentions. Anything else is not recognised (its columns need rules or keep).
 */
export function triggerColumns(trigger: Pick<CatalogTrigger, 'func' | 'src' | 'args'>): { writes: Set<string>; reads: Set<string> } {
  if (trigger.func === 'tsvector_update_trigger' || trigger.func === 'tsvector_update_trigger_column') {
    const [target, , ...sources] = trigger.args;
    return { writes: new Set(target ? [target] : []), reads: new Set(sources) };
  }
  const writes = new Set<string>();
  const reads = new Set<string>();
  const ident = String.raw`(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))`;
  for (const m of trigger.src.matchAll(new RegExp(String.raw`\bnew\s*\.\s*${ident}(\s*:?=(?!=))?`, 'gi'))) {
    const name = m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.toLowerCase();
    reads.add(name);
    if (m[3] !== undefined) writes.add(name);
  }
  return { writes, reads };
}

/**
 * Resolves the rules against a database's catalog. A rule applies to its column; a foreign key that
 * points at a masked column gets the same mask (the same input gives the same output, so the keys
 * still match); partitions and inheritance children get their parent's masks (pg_dump writes their
 * rows under their own names). Every problem is collected, none stops the others.
 */
export function planMasking(catalog: Catalog, rules: readonly MaskingRule[]): MaskPlan {
  const problems: RuleProblem[] = [];
  /** relid → column name → planned column. */
  const planned = new Map<number, Map<string, PlannedColumn>>();
  const problem = (rule: MaskingRule, text: string) => problems.push({ table: rule.table, column: rule.column, function: rule.function, problem: text });

  const queue: { relid: number; column: CatalogColumn; mask: ColumnMask; via: string }[] = [];
  for (const rule of rules) {
    const name = qualified(ruleTable(rule));
    const relation = catalog.byName.get(name);
    if (!relation) {
      problem(rule, `table ${name} does not exist`);
      continue;
    }
    const column = catalog.columns.get(relation.oid)?.find((c) => c.name === rule.column);
    if (!column) {
      problem(rule, `column ${rule.column} does not exist in ${name}`);
      continue;
    }
    const unique = catalog.uniqueColumns.get(relation.oid)?.has(column.attnum) ?? false;
    const typeProblem = catalog.partitionKeys.get(relation.oid)?.has(column.name)
      ? `${rule.column} is a partition key of ${name}; masking it would move rows out of their partitions`
      : checkType(rule, column, unique);
    if (typeProblem) {
      problem(rule, typeProblem);
      continue;
    }
    const args = rule.args ?? {};
    const mask: ColumnMask = rule.function === 'sql'
      ? { kind: 'sql', expression: args.expression as string }
      : {
          kind: 'function',
          function: rule.function,
          args,
          unique: VOCABULARY_FUNCTIONS.has(rule.function) ? ((args.unique as boolean | undefined) ?? unique) : false,
        };
    queue.push({ relid: relation.oid, column, mask, via: 'rule' });
  }

  const explicit = new Set(queue.map((q) => `${q.relid}:${q.column.name}`));
  while (queue.length > 0) {
    const { relid, column, mask, via } = queue.shift()!;
    const columns = planned.get(relid) ?? new Map<string, PlannedColumn>();
    const existing = columns.get(column.name);
    if (existing) {
      if (via !== 'rule' && JSON.stringify(existing.mask) !== JSON.stringify(mask) && explicit.has(`${relid}:${column.name}`)) {
        const rel = catalog.relations.get(relid)!;
        problems.push({ table: qualified(rel), column: column.name, function: existing.mask.kind === 'function' ? existing.mask.function : existing.mask.kind, problem: `its rule differs from the one it gets ${via}; foreign keys need the same rule on both sides` });
      }
      continue;
    }
    columns.set(column.name, { column: column.name, type: column.type, stringType: column.category === 'S', mask, via });
    planned.set(relid, columns);
    const self = catalog.relations.get(relid)!;
    for (const fk of catalog.foreignKeys) {
      if (fk.confrelid !== relid) continue;
      fk.confkey.forEach((attnum, i) => {
        if (attnum !== column.attnum) return;
        const referencing = catalog.columns.get(fk.conrelid)?.find((c) => c.attnum === fk.conkey[i]);
        if (referencing) queue.push({ relid: fk.conrelid, column: referencing, mask, via: `foreign key to ${qualified(self)}.${column.name}` });
      });
    }
    for (const child of catalog.children.get(relid) ?? []) {
      const childColumn = catalog.columns.get(child)?.find((c) => c.name === column.name);
      if (childColumn) queue.push({ relid: child, column: childColumn, mask, via: `${self.relkind === 'p' ? 'partition' : 'child'} of ${qualified(self)}` });
    }
  }

  // Columns a trigger fills from masked ones: recomputed from the masked values by that trigger.
  for (const [relid, columns] of planned) {
    const masked = new Set(columns.keys());
    for (const trigger of catalog.triggers.get(relid) ?? []) {
      const fires = (trigger.type & TRIGGER_ROW) !== 0 && (trigger.type & TRIGGER_BEFORE) !== 0 && (trigger.type & TRIGGER_UPDATE) !== 0;
      if (!fires || !['O', 'A'].includes(trigger.enabled)) continue;
      const { writes, reads } = triggerColumns(trigger);
      if (![...reads].some((r) => masked.has(r))) continue;
      for (const name of writes) {
        const column = catalog.columns.get(relid)?.find((c) => c.name === name);
        if (!column || columns.has(name) || column.generated) continue;
        const empty = column.notnull ? emptyValue(column.base) : null;
        if (column.notnull && empty === null) continue;
        columns.set(name, { column: name, type: column.type, stringType: column.category === 'S', mask: { kind: 'derived', trigger: trigger.name, enabled: trigger.enabled, empty }, via: `trigger ${trigger.name}` });
      }
    }
  }

  const tables = [...planned].map(([relid, columns]) => {
    const rel = catalog.relations.get(relid)!;
    return { schema: rel.schema, table: rel.table, relkind: rel.relkind, columns: [...columns.values()] };
  });
  tables.sort((a, b) => qualified(a).localeCompare(qualified(b)));
  return { tables, problems };
}

/** A value a NOT NULL derived column can travel as in the stream before its trigger fills it. */
function emptyValue(base: string): string | null {
  if (base === 'tsvector' || base === 'text' || base === 'varchar' || base === 'bpchar' || base === 'citext') return '';
  if (base === 'json' || base === 'jsonb') return '{}';
  return null;
}

/** Whether a `[masking] keep` (or `ignore`) entry keeps schema.table.column. */
export function keeps(entries: readonly string[], schema: string, table: string, column: string): boolean {
  return entries.some((entry) => {
    const parts = entry.split('.');
    const [s, t, c] = parts.length === 2 ? ['public', parts[0]!, parts[1]!] : [parts[0]!, parts[1]!, parts.slice(2).join('.')];
    return s === schema && t === table && (c === '*' || c === column);
  });
}

/**
 * Text-capable columns of the user tables that no rule masks (nor a foreign key, a parent table or a
 * trigger from masked columns), that are not generated (recomputed from the masked row), and that
 * `keep` does not list. A partition or inheritance child is judged through its root table.
 */
export function uncoveredColumns(catalog: Catalog, plan: MaskPlan, keep: readonly string[], skip: (schema: string, table: string) => boolean = () => false): UncoveredColumn[] {
  const masked = new Set(plan.tables.flatMap((t) => t.columns.map((c) => `${qualified(t)}.${c.column}`)));
  const childOids = new Set([...catalog.children.values()].flat());
  const out: UncoveredColumn[] = [];
  for (const relation of [...catalog.relations.values()].sort((a, b) => qualified(a).localeCompare(qualified(b)))) {
    if (childOids.has(relation.oid) || skip(relation.schema, relation.table)) continue;
    for (const column of catalog.columns.get(relation.oid) ?? []) {
      if (!column.textCapable || column.generated || masked.has(`${qualified(relation)}.${column.name}`)) continue;
      if (keeps(keep, relation.schema, relation.table, column.name)) continue;
      out.push({ table: qualified(relation), column: column.name, type: column.type });
    }
  }
  return out;
}

function checkType(rule: MaskingRule, column: CatalogColumn, unique: boolean): string | undefined {
  if (column.generated) return `${rule.column} is a generated column; mask the columns it is computed from`;
  if (STRING_FUNCTIONS.has(rule.function) && column.category !== 'S') return `${rule.function} masks text columns, and ${rule.column} is ${column.type}`;
  if (rule.function === 'date_shift' && !['date', 'timestamp', 'timestamptz'].includes(column.base)) return `date_shift masks date and timestamp columns, and ${rule.column} is ${column.type}`;
  if (rule.function === 'json_keys' && !['json', 'jsonb'].includes(column.base)) return `json_keys masks json and jsonb columns, and ${rule.column} is ${column.type}`;
  if (rule.function === 'null' && column.notnull) return `${rule.column} is NOT NULL, so it cannot be masked with null`;
  if (rule.function === 'constant' && unique) return `${rule.column} is a key or unique, so one constant for every row would break it`;
  return undefined;
}
