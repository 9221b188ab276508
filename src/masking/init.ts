import type { MaskingRule } from '../config/schema.js';
import { CONTROL_TABLE } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { checkMasking, type UnmaskedColumn } from './check.js';
import { type Catalog, planMasking, qualified, readCatalog, uncoveredColumns } from './plan.js';

/** One rule `mask init` proposes, with why. */
export interface ProposedRule {
  readonly rule: MaskingRule;
  readonly why: string;
}

/** What `ayb mask init` writes: rules for what looks personal, `keep` for every other column that can hold text. */
export interface MaskInit {
  readonly rules: readonly ProposedRule[];
  readonly keep: readonly { readonly column: string; readonly type: string }[];
  /** Columns recomputed by a trigger from masked ones (no line needed). */
  readonly derived: readonly string[];
  /** Personal-looking columns no function fits (a NOT NULL number, say): to decide by hand. */
  readonly undecided: readonly UnmaskedColumn[];
}

/** varchar(n) / character(n) → n; unbounded → Infinity. */
function maxLength(type: string): number {
  const m = /^(?:character varying|varchar|character|char|bpchar)\((\d+)\)/.exec(type);
  return m ? Number(m[1]) : Infinity;
}

/** The longest value each function writes (the unique suffix adds 17). */
const LONGEST: Record<string, number> = { email: 48, first_name: 7, last_name: 8, name: 16, address: 26, phone: 0 };

/**
 * The function for a personal-looking column, from what the detector saw and the column's type:
 * a function whose output fits (else `redact`, which keeps the length); `null` where a value of
 * another type cannot be rewritten as text and the column allows it.
 */
export function proposeRule(column: UnmaskedColumn, info: { base: string; category: string; notnull: boolean; unique: boolean }): MaskingRule | undefined {
  const [schema, ...rest] = column.table.split('.');
  const table = schema === 'public' ? rest.join('.') : column.table;
  const rule = (fn: MaskingRule['function'], args?: Record<string, unknown>): MaskingRule => ({ table, column: column.column, function: fn, ...(args ? { args } : {}) });
  const why = column.reasons.join('; ');
  const json = [...why.matchAll(/json keys ([^;]+?) hold/g)].flatMap((m) => m[1]!.split(', '));
  if (json.length > 0) return rule('json_keys', { keys: [...new Set(json)].sort(), function: 'redact' });
  if (info.base === 'tsvector') return info.notnull ? rule('constant', { value: '' }) : rule('null');
  if (info.category !== 'S') {
    if (/birth/.test(why) && ['date', 'timestamp', 'timestamptz'].includes(info.base)) return rule('date_shift', { days: 180 });
    if (!info.notnull) return rule('null');
    if (['inet', 'cidr'].includes(info.base) && !info.unique) return rule('constant', { value: '192.0.2.1' });
    return undefined;
  }
  const room = maxLength(column.type);
  const fits = (fn: string) => (LONGEST[fn] ?? 0) + (info.unique && fn !== 'email' ? 17 : 0) <= room;
  const pick = (fn: MaskingRule['function']) => (fits(fn) ? rule(fn) : rule('redact'));
  if (/email/.test(why)) return pick('email');
  if (/phone/.test(why)) return pick('phone');
  if (/credential/.test(why)) return info.notnull ? rule('hash', room >= 8 ? { length: Math.min(32, room) } : undefined) : rule('null');
  if (/identity or payment/.test(why)) return room >= 8 ? rule('hash', { length: Math.min(32, room) }) : rule('redact');
  if (/birth/.test(why)) return rule('redact');
  if (/postal|post_?code|zip/i.test(column.column)) return rule('redact');
  if (/address/.test(why) && !/IP/.test(why)) return pick('address');
  if (/name looks like name/.test(why)) {
    if (/(^|_)(first|given|fore)_?name$|^forename$/i.test(column.column)) return pick('first_name');
    if (/(^|_)(last|family|maiden)_?name$|^surname$/i.test(column.column)) return pick('last_name');
    if (/user_?name|login|nickname|display/i.test(column.column)) return rule('redact');
    return pick('name');
  }
  return rule('redact');
}

/** Reads the source, runs the detector, and proposes rules and keep lines that cover every column that can hold text. */
export async function initMasking(client: Client): Promise<MaskInit> {
  const catalog = await readCatalog(client);
  const check = await checkMasking(client, [], []);
  const childOids = new Set([...catalog.children.values()].flat());
  const rules: ProposedRule[] = [];
  const undecided: UnmaskedColumn[] = [];
  for (const column of check.unmasked) {
    const relation = catalog.byName.get(column.table);
    if (!relation || childOids.has(relation.oid)) continue;
    const info = catalog.columns.get(relation.oid)?.find((c) => c.name === column.column);
    if (!info) continue;
    const rule = proposeRule(column, { ...info, unique: uniqueColumn(catalog, relation.oid, info.attnum) });
    if (rule) rules.push({ rule, why: column.reasons.join('; ') });
    else undecided.push(column);
  }
  // A column whose foreign key points at a proposed rule's column gets it anyway: drop its own.
  let plan = planMasking(catalog, rules.map((r) => r.rule));
  const inherited = new Set(plan.tables.flatMap((t) => t.columns.filter((c) => c.via.startsWith('foreign key')).map((c) => `${qualified(t)}.${c.column}`)));
  const kept = rules.filter((r) => !inherited.has(`${r.rule.table.includes('.') ? r.rule.table : `public.${r.rule.table}`}.${r.rule.column}`));
  plan = planMasking(catalog, kept.map((r) => r.rule));
  const keep = uncoveredColumns(catalog, plan, [], (schema, table) => schema === 'public' && table === CONTROL_TABLE)
    .filter((c) => !undecided.some((u) => u.table === c.table && u.column === c.column))
    .map((c) => ({ column: `${c.table}.${c.column}`, type: c.type }));
  const derived = plan.tables.flatMap((t) => t.columns.flatMap((c) => (c.mask.kind === 'derived' ? [`${qualified(t)}.${c.column} (trigger ${c.mask.trigger})`] : [])));
  return { rules: kept, keep, derived, undecided };
}

function uniqueColumn(catalog: Catalog, relid: number, attnum: number): boolean {
  return catalog.uniqueColumns.get(relid)?.has(attnum) ?? false;
}

const tomlString = (s: string) => JSON.stringify(s);

function tomlValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  if (typeof v === 'string') return tomlString(v);
  return String(v);
}

/** The `[masking]` section and `[[masking.rules]]` of a MaskInit, as TOML with a comment on every line's why. */
export function renderMaskInit(init: MaskInit, source: string): string {
  const lines: string[] = [
    `# Written by \`ayb mask init\` from ${source}: a starting point, to review line by line.`,
    '# A masked copy is refused while a column that can hold text is neither masked by a rule nor kept.',
    '[masking]',
  ];
  if (init.keep.length > 0) {
    lines.push('# Carried as they are: neither their names nor sampled values looked personal. Move any that are to a rule.', 'keep = [');
    const width = Math.max(...init.keep.map((k) => tomlString(k.column).length + 1));
    for (const k of init.keep) lines.push(`  ${`${tomlString(k.column)},`.padEnd(width)}  # ${k.type}`);
    lines.push(']');
  } else {
    lines.push('keep = []');
  }
  for (const d of init.derived) lines.push(`# ${d}: recomputed by its trigger from the masked values`);
  for (const u of init.undecided) lines.push(`# TODO ${u.table}.${u.column} (${u.type}): ${u.reasons.join('; ')}; no function fits, write a rule (function = "sql") or keep it`);
  for (const { rule, why } of init.rules) {
    lines.push('', `# ${why}`, '[[masking.rules]]', `table = ${tomlString(rule.table)}`, `column = ${tomlString(rule.column)}`, `function = ${tomlString(rule.function)}`);
    if (rule.args) lines.push(`args = { ${Object.entries(rule.args).map(([k, v]) => `${k} = ${tomlValue(v)}`).join(', ')} }`);
  }
  return `${lines.join('\n')}\n`;
}
