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
