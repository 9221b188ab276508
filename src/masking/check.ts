import type { MaskingRule } from '../config/schema.js';
import { CONTROL_TABLE } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import { parseJson, type JsonNode } from './functions.js';
import { keeps, planMasking, qualified, readCatalog, type RuleProblem, type UncoveredColumn, uncoveredColumns } from './plan.js';
import { PERSONAL_CONTENT } from './side-channels.js';

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
  /** Text-capable columns neither masked nor kept: a masked copy would be refused until each is one or the other. */
  readonly uncovered: readonly UncoveredColumn[];
}

/** Identity and payment numbers: personal even when the name ends in _id (national_id, tax_id). */
const IDENTITY = /(^|_)(ssn|social_security(_number)?|national_(id|number|insurance)|nino|passport(_no|_number|_id)?|tax_?(id|number|no|code|ref)|tin|vat_?(id|number|no)|iban|bic|bank_account|account_number|card_number|credit_card|cc_number|licen[cs]e_(number|no)|driver_?licen[cs]e|id_card|id_number|personal_?number|health_?(id|number)|nhs_number|medicare)($|_)/i;

/** Column names that usually hold personal data. Bare `name` is left out: categories and products have one too. */
const PERSONAL_NAMES: readonly [RegExp, string][] = [
  [/(^|_)e?_?mail(_?address)?($|_)/i, 'email'],
  [/(^|_)(phone|mobile|cell|fax|tel|telephone)($|_|_?number)/i, 'phone number'],
  [/(^|_)(first|last|given|family|middle|full|maiden|display)_?name$|^(surname|forename|username|user_name|login|nickname)$/i, 'name'],
  [/(^|_)(address\d?|street|postal_?code|post_?code|zip(_?code)?)($|_)/i, 'address'],
  [/(^|_)(birth_?date|date_of_birth|dob|birthday)($|_)/i, 'birth date'],
  [IDENTITY, 'identity or payment number'],
  [/(^|_)(ip|ip_?address|remote_addr|client_ip|last_login_ip)$/i, 'IP address'],
  [/(^|_)(password|passwd|secret|token)($|_)/i, 'credential'],
];

const PERSONAL_TYPES = new Set(['inet', 'cidr', 'macaddr', 'macaddr8']);

/** What sampled values look like, tested on text values. */
const CONTENT = PERSONAL_CONTENT;

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
  const isControl = (schema: string, table: string) => schema === 'public' && table === CONTROL_TABLE;
  const unmasked: UnmaskedColumn[] = [];
  for (const relation of [...catalog.relations.values()].sort((a, b) => qualified(a).localeCompare(qualified(b)))) {
    if (relation.table === CONTROL_TABLE && relation.schema === 'public') continue;
    const all = catalog.columns.get(relation.oid) ?? [];
    const tableMasked = all.some((c) => masked.has(`${qualified(relation)}.${c.name}`));
    const columns = all.filter((c) => !c.generated && !masked.has(`${qualified(relation)}.${c.name}`) && !keeps(ignore, relation.schema, relation.table, c.name));
    const reasons = new Map<string, string[]>();
    const add = (column: string, reason: string) => reasons.set(column, [...(reasons.get(column) ?? []), reason]);
    for (const column of columns) {
      // address_id, customer_ids: keys that point at personal data, not personal data themselves.
      const byName = /_ids?$/i.test(column.name) && !IDENTITY.test(column.name) ? undefined : PERSONAL_NAMES.find(([pattern]) => pattern.test(column.name));
      if (byName) add(column.name, `name looks like ${byName[1]}`);
      if (PERSONAL_TYPES.has(column.base)) add(column.name, `type ${column.type}`);
    }
    // A partition's rows are sampled through its parent's; a partitioned table has none of its own.
    if (relation.relkind === 'r') await sampleContent(client, relation, columns.filter((c) => c.category === 'S' || c.base === 'json' || c.base === 'jsonb'), add);
    // A tsvector beside personal columns holds their words (names, emails), unless a trigger recomputes it from masked ones.
    const personalTable = tableMasked || reasons.size > 0;
    for (const column of columns) if (column.base === 'tsvector' && personalTable) add(column.name, 'a tsvector beside personal columns: it holds the words of the text it was made from');
    for (const column of columns) {
      const why = reasons.get(column.name);
      if (why) unmasked.push({ table: qualified(relation), column: column.name, type: column.type, reasons: why });
    }
  }
  return { unmasked, problems: plan.problems, uncovered: uncoveredColumns(catalog, plan, ignore, isControl) };
}

/** The keys of a json value whose string values match `pattern`, at any depth. */
function jsonKeysMatching(node: JsonNode, pattern: RegExp, key: string | undefined, out: Set<string>): void {
  switch (node.kind) {
    case 'object':
      for (const [k, v] of node.entries) jsonKeysMatching(v, pattern, k, out);
      return;
    case 'array':
      for (const item of node.items) jsonKeysMatching(item, pattern, key, out);
      return;
    case 'string':
      if (key !== undefined && pattern.test(node.value.trim())) out.add(key);
      return;
    default:
  }
}

async function sampleContent(
  client: Client,
  relation: { schema: string; table: string },
  columns: readonly { name: string; base: string }[],
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
    if (column.base === 'json' || column.base === 'jsonb') {
      for (const [pattern, what] of CONTENT) {
        const keys = new Set<string>();
        for (const v of values) {
          try {
            jsonKeysMatching(parseJson(v), pattern, undefined, keys);
          } catch {
            // Not JSON text after all: nothing to look into.
          }
        }
        if (keys.size > 0) add(column.name, `json keys ${[...keys].sort().join(', ')} hold ${what}`);
      }
      return;
    }
    for (const [pattern, what] of CONTENT) {
      const hits = values.filter((v) => pattern.test(v.trim())).length;
      if (hits / values.length >= CONTENT_SHARE) add(column.name, `${hits} of ${values.length} sampled values look like ${what}`);
    }
  });
}
