/**
 * Expressions as PostgreSQL stores them, and the two forms the diff needs of them.
 *
 * The server deparses a stored expression (pg_get_expr, pg_get_constraintdef, pg_get_indexdef,
 * pg_get_viewdef) to text that, parsed again, is not always the same tree. The common case is
 * `IN (…)` on a varchar column: written `s IN ('a', 'b')`, it is stored (and deparsed) as
 *
 *     (s)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])
 *
 * and that text, parsed again, coerces each element instead of the whole array:
 *
 *     (s)::text = ANY (ARRAY[('a'::character varying)::text, ('b'::character varying)::text])
 *
 * Two functions deal with that, each checked by the round-trip corpus:
 *  - `reparseable` turns a deparsed expression into text that parses back to the very tree it came
 *    from (for the case above: `ANY (ARRAY[…])`, which makes the parser coerce the whole array
 *    again), so that a migration reproduces exactly what the other side stores;
 *  - `canonicalExpression` turns both forms into one, so that two sides that store the two forms of
 *    the same condition are not reported as different.
 */

/** `ANY ((ARRAY[` or `ALL ((ARRAY[`: the start of a whole-array coercion inside a scalar-array operator. */
const ARRAY_COERCION = /\b(ANY|ALL) \(\(ARRAY\[/g;

interface ArrayCoercion {
  /** Index of `ANY`/`ALL`. */
  readonly start: number;
  /** Index just past the closing `)` of `ANY (…)`. */
  readonly end: number;
  readonly operator: string;
  readonly elements: readonly string[];
  /** The element type the array is coerced to (`text` for `::text[]`). */
  readonly elementType: string;
}

/** Finds `ANY ((ARRAY[e1, e2, …])::type[])` occurrences, with their elements split at top-level commas. */
function findArrayCoercions(text: string): ArrayCoercion[] {
  const found: ArrayCoercion[] = [];
  ARRAY_COERCION.lastIndex = 0;
  for (let match = ARRAY_COERCION.exec(text); match; match = ARRAY_COERCION.exec(text)) {
    const open = match.index + match[0].length;
    const elements: string[] = [];
    let depth = 0;
    let from = open;
    let i = open;
    let closed = -1;
    while (i < text.length) {
      const c = text[i]!;
      if (c === "'" || c === '"') {
        // Skip a quoted literal or identifier ('' and "" are escaped quotes).
        let j = i + 1;
        while (j < text.length) {
          if (text[j] === c) {
            if (text[j + 1] === c) j += 2;
            else break;
          } else j++;
        }
        i = j + 1;
        continue;
      }
      if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') {
        if (depth === 0) {
          if (c === ']') closed = i;
          break;
        }
        depth--;
      } else if (c === ',' && depth === 0) {
        elements.push(text.slice(from, i).trim());
        from = i + 1;
      }
      i++;
    }
    if (closed < 0) continue;
    elements.push(text.slice(from, closed).trim());
    // After `]`: `)::type[])`.
    const tail = /^\)::((?:[^()[\]'"]|"(?:[^"]|"")*")+?)\[\]\)/.exec(text.slice(closed + 1));
    if (!tail) continue;
    found.push({ start: match.index, end: closed + 1 + tail[0].length, operator: match[1]!, elements, elementType: tail[1]! });
    ARRAY_COERCION.lastIndex = closed + 1 + tail[0].length;
  }
  return found;
}

function rewrite(text: string, replace: (coercion: ArrayCoercion) => string): string {
  if (!text.includes('((ARRAY[')) return text;
  const coercions = findArrayCoercions(text);
  if (coercions.length === 0) return text;
  let out = '';
  let at = 0;
  for (const coercion of coercions) {
    out += text.slice(at, coercion.start) + replace(coercion);
    at = coercion.end;
  }
  return out + text.slice(at);
}

/** Index just past the quoted literal or identifier that starts at `i`. */
function skipQuoted(text: string, i: number): number {
  const quote = text[i];
  let j = i + 1;
  while (j < text.length) {
    if (text[j] === quote) {
      if (text[j + 1] === quote) j += 2;
      else return j + 1;
    } else j++;
  }
  return j;
}

/** Index of the `)` that closes the `(` at `open`, or -1. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; ) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      i = skipQuoted(text, i);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
    i++;
  }
  return -1;
}

/** `text` split at ` AND ` (or ` OR `) outside parentheses and quotes. */
function splitTopLevel(text: string, operator: 'AND' | 'OR'): string[] {
  const token = ` ${operator} `;
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      i = skipQuoted(text, i);
      continue;
    }
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && c === ' ' && text.startsWith(token, i)) {
      parts.push(text.slice(from, i));
      from = i + token.length;
      i = from;
      continue;
    }
    i++;
  }
  parts.push(text.slice(from));
  return parts;
}

/** True when `text` is one parenthesised group, `( … )`, from its first to its last character. */
function isGroup(text: string): boolean {
  return text.startsWith('(') && closingParen(text, 0) === text.length - 1;
}

/** Rewrites the inside of every parenthesised group, innermost first. */
function mapGroups(text: string, fn: (inner: string) => string): string {
  if (!text.includes(' AND ') && !text.includes(' OR ')) return text;
  let out = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const end = skipQuoted(text, i);
      out += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === '(') {
      const close = closingParen(text, i);
      if (close < 0) return out + text.slice(i);
      out += `(${fn(mapGroups(text.slice(i + 1, close), fn))})`;
      i = close + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/**
 * A nested AND (or OR) on the left, `((a AND b) AND c)`, which BETWEEN and hand-written
 * parentheses produce: the parser flattens it to `(a AND b AND c)`. `nested` says what to do with
 * the left operand: keep it nested (cast it to boolean, which the parser does not flatten and
 * which adds no node) or flatten it.
 */
function nestedBooleans(text: string, mode: 'keep' | 'flatten'): string {
  return mapGroups(text, (inner) => {
    for (const operator of ['AND', 'OR'] as const) {
      const parts = splitTopLevel(inner, operator);
      if (parts.length < 2) continue;
      const first = parts[0]!;
      if (!isGroup(first) || splitTopLevel(first.slice(1, -1), operator).length < 2) return inner;
      parts[0] = mode === 'keep' ? `${first}::boolean` : first.slice(1, -1);
      return parts.join(` ${operator} `);
    }
    return inner;
  });
}

/** Text that PostgreSQL parses back into the expression `deparsed` was deparsed from. */
export function reparseable(deparsed: string): string {
  return nestedBooleans(
    rewrite(deparsed, (c) => `${c.operator} (ARRAY[${c.elements.join(', ')}])`),
    'keep',
  );
}

/** One text for the forms of an expression that a round trip through the server can produce. */
export function canonicalExpression(deparsed: string): string {
  return nestedBooleans(
    rewrite(deparsed, (c) => `${c.operator} (ARRAY[${c.elements.map((e) => `(${e})::${c.elementType}`).join(', ')}])`),
    'flatten',
  );
}
