import { quoteIdent } from '../postgres/quote.js';
import type { DataTable } from './catalog.js';

/**
 * `ALTER TABLE … DISABLE RULE` for each enabled rule of the table, or the ENABLE that puts it back in
 * the mode it had (ENABLE ALWAYS / ENABLE REPLICA: a bare ENABLE would change which sessions it fires
 * in), as triggerStatements does for triggers. Run in the merge's apply transaction, so a rule is off
 * only for the merge's own writes (other sessions wait on the table's lock, then see it enabled).
 */
export function ruleStatements(table: DataTable, verb: 'DISABLE' | 'ENABLE'): string[] {
  const mode = (m: string) => (verb === 'DISABLE' ? '' : ({ A: 'ALWAYS ', R: 'REPLICA ' } as Record<string, string>)[m] ?? '');
  return Object.entries(table.rules ?? {}).map(([rule, m]) => `ALTER TABLE ${quoteIdent(table.schema)}.${quoteIdent(table.name)} ${verb} ${mode(m)}RULE ${quoteIdent(rule)};`);
}
