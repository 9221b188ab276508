import type { MigrationStatement } from './statement.js';

/** The migration as a psql-ready script: one statement per paragraph, comments above the ones that need them. */
export function renderMigration(statements: readonly MigrationStatement[], header?: string): string {
  if (statements.length === 0) return `${header ? `-- ${header}\n` : ''}-- No schema differences.\n`;
  const lines: string[] = [];
  if (header) lines.push(`-- ${header}`);
  const destructive = statements.filter((s) => s.destructive).length;
  const manual = statements.filter((s) => s.manual !== undefined).length;
  const count = statements.length - manual;
  lines.push(`-- ${count} statement${count === 1 ? '' : 's'}${destructive > 0 ? `, ${destructive} destructive (marked below): review before applying` : ''}.`);
  if (manual > 0) lines.push(`-- ${manual} change${manual === 1 ? '' : 's'} cannot be migrated by this script: see the "-- manual:" comments below.`);
  // Function bodies are checked when they run, not when they are created (as pg_dump does), so
  // a function may mention a table created further down.
  if (statements.some((s) => /^CREATE (OR REPLACE )?(FUNCTION|PROCEDURE)/.test(s.sql))) lines.push('', 'SET check_function_bodies = false;');
  for (const statement of statements) {
    lines.push('');
    if (statement.destructive) lines.push(`-- destructive: ${statement.destructive}`);
    if (statement.note) lines.push(`-- ${statement.note}`);
    if (statement.manual !== undefined) lines.push(`-- manual: ${statement.manual}`);
    else lines.push(`${statement.sql.trimEnd()};`);
  }
  return `${lines.join('\n')}\n`;
}
