import type { MaskingRule } from '../config/schema.js';
import { CONTROL_TABLE } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import { planMasking, qualified, readCatalog, type RuleProblem } from './plan.js';

export interface UnmaskedColumn {
  readonly table: string;
  readonly column: string;
  readonly type: string;
  /** Why it looks personal: its name, its type, or what sampled values look like. */
  readonly reasons: readonly string[];
}

export interface MaskCheck {
  readonly unmasked: readonly UnmaskedColumn[];
  readonly problems: readonly RuleProblem[];
}

/** Column names that usually hold personal data. Bare `name` is left out: categories and products have one too. */
const PERSONAL_NAMES: readonly [RegExp, string][] = [
  [/(^|_)e?_?mail(_?address)?($|_)/i, 'email'],
  [/(^|_)(phone|mobile|cell|fax|tel|telephone)($|_|_?number)/i, 'phone number'],
  [/(^|_)(first|last|given|family|middle|full|maiden|display)_?name$|^(surname|forename|username|user_name|login|nickname)$/i, 'name'],
  [/(^|_)(address\d?|street|postal_?code|post_?code|zip(_?code)?)($|_)/i, 'address'],
  [/(^|_)(birth_?date|date_of_birth|dob|birthday)($|_)/i, 'birth date'],
  [/(^|_)(ssn|social_security|national_id|passport|tax_id|iban|card_number|credit_card|licen[cs]e_number)($|_)/i, 'identity or payment number'],
  [/(^|_)(ip|ip_?address|remote_addr|client_ip|last_login_ip)$/i, 'IP address'],
  [/(^|_)(password|passwd|secret|token)($|_)/i, 'credential'],
];

const PERSONAL_TYPES = new Set(['inet', 'cidr', 'macaddr', 'macaddr8']);

/** What sampled values look like, tested on text values. */
const CONTENT: readonly [RegExp, string][] = [
  [/^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i, 'emails'],
  [/^\+?[\d\s().-]{7,20}$/, 'phone numbers'],
  [/^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$/i, 'IP addresses'],
];

const SAMPLE = 200;
/** A column whose sampled values match a pattern at least this often is reported. */
const CONTENT_SHARE = 0.5;

/**
 * Columns that look personal (by name, type, or sampled content) and that no rule masks, directly
 * or through a foreign key or a parent table; and rules that name nothing or cannot apply.
 */
export async function checkMasking(client: Client, rules: readonly MaskingRule[], ignore: readonly string[] = []): Promise<MaskCheck> {
  const catalog = await readCatalog(client);
  const plan = planMasking(catalog, rules);
  const masked = new Set(plan.tables.flatMap((t) => t.columns.map((c) => `${qualified(t)}.${c.column}`)));
  // `actor.first_name` means public.actor.first_name, as in a rule.
  for (const entry of ignore) masked.add(entry.split('.').length === 2 ? `public.${entry}` : entry);
  const unmasked: UnmaskedColumn[] = [];
  for (const relation of [...catalog.relations.values()].sort((a, b) => qualified(a).localeCompare(qualified(b)))) {
    if (relation.table === CONTROL_TABLE && relation.schema === 'public') continue;
    const columns = (catalog.columns.get(relation.oid) ?? []).filter((c) => !c.generated && !masked.has(`${qualified(relation)}.${c.name}`));
    const reasons = new Map<string, string[]>();
    const add = (column: string, reason: string) => reasons.set(column, [...(reasons.get(column) ?? []), reason]);
    for (const column of columns) {
      // address_id, customer_ids: keys that point at personal data, not personal data themselves.
      const byName = /_ids?$/i.test(column.name) ? undefined : PERSONAL_NAMES.find(([pattern]) => pattern.test(column.name));
      if (byName) add(column.name, `name looks like ${byName[1]}`);
      if (PERSONAL_TYPES.has(column.base)) add(column.name, `type ${column.type}`);
    }
    // A partition's rows are sampled through its parent's; a partitioned table has none of its own.
    if (relation.relkind === 'r') await sampleContent(client, relation, columns.filter((c) => c.category === 'S'), add);
    for (const column of columns) {
      const why = reasons.get(column.name);
      if (why) unmasked.push({ table: qualified(relation), column: column.name, type: column.type, reasons: why });
    }
  }
  return { unmasked, problems: plan.problems };
}

async function sampleContent(
  client: Client,
  relation: { schema: string; table: string },
  columns: readonly { name: string }[],
  add: (column: string, reason: string) => void,
): Promise<void> {
  if (columns.length === 0) return;
  const list = columns.map((c) => `${quoteIdent(c.name)}::text`).join(', ');
  const { rows } = await client.query<unknown[]>({
    text: `SELECT ${list} FROM ONLY ${quoteIdent(relation.schema)}.${quoteIdent(relation.table)} LIMIT ${SAMPLE}`,
    rowMode: 'array',
  });
  columns.forEach((column, i) => {
    const values = rows.map((r) => r[i]).filter((v): v is string => typeof v === 'string' && v.trim() !== '');
    if (values.length === 0) return;
    for (const [pattern, what] of CONTENT) {
      const hits = values.filter((v) => pattern.test(v.trim())).length;
      if (hits / values.length >= CONTENT_SHARE) add(column.name, `${hits} of ${values.length} sampled values look like ${what}`);
    }
  });
}
