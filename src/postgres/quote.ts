/** Quotes an SQL identifier. The one place identifiers are turned into SQL text. */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains a NUL byte');
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal (for the few statements that cannot take parameters, like DDL). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('literal contains a NUL byte');
  const escaped = value.replace(/'/g, "''");
  return value.includes('\\') ? ` E'${escaped.replace(/\\/g, '\\\\')}'`.trim() : `'${escaped}'`;
}

/**
 * `ROWS FROM (pg_catalog.unnest(a), pg_catalog.unnest(b), …)`: the arrays side by side as rows (what
 * `unnest(a, b)` means; that short form exists only unqualified, where the search_path may find a
 * user's unnest first).
 */
export function unnestAll(arrays: readonly string[]): string {
  return `ROWS FROM (${arrays.map((a) => `pg_catalog.unnest(${a})`).join(', ')})`;
}
