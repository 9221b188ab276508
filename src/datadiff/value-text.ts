import { quoteLiteral } from '../postgres/quote.js';

/**
 * The text of a value as its type's OUTPUT function writes it, NULL for NULL: what the data diff and the
 * merge read every user column through, for keys, rows and the literals of `--output sql`.
 *
 * Not `x::text`: a cast to text is not always the output function. bpchar's (and a domain's over it) is
 * rtrim, so `'a  '::bpchar::text` is `'a'`, and a diff read through it missed a change of trailing
 * spaces and wrote back a value that differs; inet's cast keeps a /32 the output drops, "char"'s writes
 * a raw byte. `format('%s', x)` calls the output function of any type (arrays, composites, domains);
 * `num_nulls` tests the value itself, where `x IS NULL` would also be true of a composite whose fields
 * are all NULL. Everything is schema-qualified: ayb's sessions and the script run with search_path empty.
 */
export const valueText = (expr: string): string => `CASE WHEN pg_catalog.num_nulls(${expr}) = 0 THEN pg_catalog.format('%s', ${expr}) END`;

/*
 * How a value's text travels between a server and ayb, and into a script. ayb's sessions speak UTF-8,
 * and a SQL_ASCII database holds bytes that are not (legacy LATIN1 text: 'caf' || 0xE9): its server
 * refuses to send them to a UTF-8 client (22021). The data diff of such a database (either side in
 * SQL_ASCII: `bytes`) moves every value's text as its bytes, written ASCII by `encode(…, 'escape')`
 * (a byte of the high half as `\ooo`, a backslash doubled: `caf\351`), which is what its keys, its
 * examples and the whole rows it holds are; the server turns it back into the bytes (fromWire), and
 * the script writes it as an escape string (`E'caf\351'`), which PostgreSQL reads back into the very
 * bytes (and refuses, in a UTF-8 database, when they are not UTF-8). Without `bytes`, texts go as they are.
 */

/** A value's text (valueText) as it travels: its bytes escaped with `bytes`. */
export const wireText = (expr: string, bytes?: boolean): string =>
  (bytes ? `pg_catalog.encode(pg_catalog.convert_to(${valueText(expr)}, 'SQL_ASCII'), 'escape')` : valueText(expr));

/** A text that travelled (an SQL expression of it) as the server's text again: the bytes, with `bytes`. */
export const fromWire = (expr: string, bytes?: boolean): string =>
  (bytes ? `pg_catalog.convert_from(pg_catalog.decode(${expr}, 'escape'), pg_catalog.getdatabaseencoding())` : expr);

/** The server's SQL literal of a text that travelled (an SQL expression of it): an escape string of it with `bytes`. */
export const wireLiteral = (expr: string, bytes?: boolean): string =>
  (bytes ? `('E''' || pg_catalog.replace(${expr}, '''', '''''') || '''')` : `pg_catalog.quote_literal(${expr})`);

/** ayb's SQL literal of a text that travelled: an escape string of it with `bytes` (its backslashes are escapes already). */
export const textLiteral = (text: string, bytes?: boolean): string => {
  if (!bytes) return quoteLiteral(text);
  if (text.includes('\u0000')) throw new Error('literal contains a NUL byte');
  return `E'${text.replace(/'/g, "''")}'`;
};
