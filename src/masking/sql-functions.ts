import { quoteLiteral } from '../postgres/quote.js';
import { FIRST_NAMES, LAST_NAMES, STREET_KINDS, STREETS } from './vocabulary.js';

/** The schema the functions live in while a branch is masked; dropped before the branch is ready. */
export const MASK_SCHEMA = '_ayb_mask';

const words = (list: readonly string[]) => `(ARRAY[${list.map(quoteLiteral).join(', ')}]::text[])`;
/** HMAC-SHA256 of v under the padded keys in k, written out (a function call per row costs more than the hash). */
const DIGEST = "sha256(substring(k FROM 65 FOR 64) || sha256(substring(k FROM 1 FOR 64) || convert_to(v, 'UTF8')))";
/** 24 bits of the digest at byte i, modulo n (pick() in functions.ts), written out for the same reason. */
const pick = (i: number, n: number) => `((get_byte(d, ${i}) * 65536 + get_byte(d, ${i + 1}) * 256 + get_byte(d, ${i + 2})) % ${n})`;
/** A word of `list` picked by the digest at byte i (arrays are 1-based in SQL). */
const word = (list: readonly string[], i: number) => `${words(list)}[${pick(i, list.length)} + 1]`;

/**
 * The masking functions in SQL: the algorithm of functions.ts, statement for statement, so that a
 * branch masked in place (UPDATE … SET col = _ayb_mask.apply(…)) and one masked in the dump stream
 * hold the same values. HMAC-SHA256 is computed with the built-in sha256() (PostgreSQL 11+) from
 * the inner and outer padded keys (sqlKey in functions.ts), so neither pgcrypto nor any extension
 * is needed, and the key is a parameter of each call: it is never written into the branch.
 *
 * The digest and the word picks are written out in each function rather than called: PL/pgSQL
 * evaluates such simple expressions directly, and a call per row cost more than the hashing.
 */
export const MASK_FUNCTIONS_SQL = `
CREATE SCHEMA ${MASK_SCHEMA};

CREATE FUNCTION ${MASK_SCHEMA}.scramble(v text, d bytea, digits_only boolean, keep_first int, keep_last int) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  chars text[] := string_to_array(v, NULL);
  n int := coalesce(array_length(chars, 1), 0);
  parts text[] := ARRAY[]::text[];
  block bytea;
  b int;
  c text;
  code int;
BEGIN
  FOR j IN 0 .. n - 1 LOOP
    IF j % 32 = 0 THEN block := sha256(d || int4send(j / 32)); END IF;
    b := get_byte(block, j % 32);
    c := chars[j + 1];
    code := ascii(c);
    IF j < keep_first OR j >= n - keep_last THEN parts := parts || c;
    ELSIF code BETWEEN 48 AND 57 THEN parts := parts || chr(48 + b % 10);
    ELSIF digits_only OR code IN (9, 10, 13, 32) OR code BETWEEN 33 AND 47 OR code BETWEEN 58 AND 64 OR code BETWEEN 91 AND 96 OR code BETWEEN 123 AND 126 THEN parts := parts || c;
    ELSIF code BETWEEN 65 AND 90 THEN parts := parts || chr(65 + b % 26);
    ELSE parts := parts || chr(97 + b % 26);
    END IF;
  END LOOP;
  RETURN array_to_string(parts, '');
END $$;

CREATE FUNCTION ${MASK_SCHEMA}.date_shift(v text, k bytea, days int) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  d bytea;
  s int;
  r date;
BEGIN
  IF v !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' OR v ~ ' BC$' THEN RETURN v; END IF;
  d := ${DIGEST};
  s := ((get_byte(d, 0) * 65536 + get_byte(d, 1) * 256 + get_byte(d, 2)) % (2 * days)) - days;
  IF s >= 0 THEN s := s + 1; END IF;
  r := substr(v, 1, 10)::date + s;
  IF extract(year FROM r) NOT BETWEEN 1 AND 9999 OR to_char(r, 'BC') = 'BC' THEN RETURN v; END IF;
  RETURN to_char(r, 'YYYY-MM-DD') || substr(v, 11);
END $$;

CREATE FUNCTION ${MASK_SCHEMA}.apply(fn text, v text, k bytea, args jsonb, u boolean) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  d bytea;
  hex text;
  sfx text;
BEGIN
  IF v IS NULL OR fn = 'null' THEN RETURN NULL; END IF;
  IF fn = 'constant' THEN RETURN args->>'value'; END IF;
  IF fn = 'date_shift' THEN RETURN ${MASK_SCHEMA}.date_shift(v, k, coalesce((args->>'days')::int, 30)); END IF;
  IF fn = 'json_keys' THEN RETURN ${MASK_SCHEMA}.json_walk(v::jsonb, k, args, false)::text; END IF;
  d := ${DIGEST};
  hex := encode(substring(d FROM 9 FOR 8), 'hex');
  sfx := CASE WHEN u THEN ' ' || hex ELSE '' END;
  CASE fn
    WHEN 'email' THEN
      RETURN lower(${word(FIRST_NAMES, 0)}) || '.' || lower(${word(LAST_NAMES, 3)}) || '.' || hex || '@' || coalesce(args->>'domain', 'example.com');
    WHEN 'first_name' THEN RETURN ${word(FIRST_NAMES, 0)} || sfx;
    WHEN 'last_name' THEN RETURN ${word(LAST_NAMES, 3)} || sfx;
    WHEN 'name' THEN RETURN ${word(FIRST_NAMES, 0)} || ' ' || ${word(LAST_NAMES, 3)} || sfx;
    WHEN 'address' THEN
      RETURN (1 + (get_byte(d, 6) * 256 + get_byte(d, 7)) % 9999)::text || ' ' || ${word(STREETS, 16)}
        || ' ' || ${words(STREET_KINDS)}[get_byte(d, 19) % ${STREET_KINDS.length} + 1] || sfx;
    WHEN 'phone' THEN RETURN ${MASK_SCHEMA}.scramble(v, d, true, 0, 0) || sfx;
    WHEN 'hash' THEN RETURN left(encode(d, 'hex'), coalesce((args->>'length')::int, 32));
    WHEN 'redact' THEN
      RETURN ${MASK_SCHEMA}.scramble(v, d, false, coalesce((args->>'keep_first')::int, 0), coalesce((args->>'keep_last')::int, 0));
    ELSE RAISE EXCEPTION 'unknown masking function %', fn;
  END CASE;
END $$;

CREATE FUNCTION ${MASK_SCHEMA}.json_walk(v jsonb, k bytea, args jsonb, all_ boolean) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  result jsonb;
  masked text;
BEGIN
  CASE jsonb_typeof(v)
    WHEN 'object' THEN
      SELECT coalesce(jsonb_object_agg(e.key, ${MASK_SCHEMA}.json_walk(e.value, k, args, all_ OR args->'keys' ? e.key)), '{}'::jsonb)
        INTO result FROM jsonb_each(v) AS e;
      RETURN result;
    WHEN 'array' THEN
      SELECT coalesce(jsonb_agg(${MASK_SCHEMA}.json_walk(x.value, k, args, all_) ORDER BY x.n), '[]'::jsonb)
        INTO result FROM jsonb_array_elements(v) WITH ORDINALITY AS x(value, n);
      RETURN result;
    WHEN 'null' THEN RETURN v;
    ELSE
      IF NOT all_ THEN RETURN v; END IF;
      masked := ${MASK_SCHEMA}.apply(coalesce(args->>'function', 'hash'), v #>> '{}', k, args, coalesce((args->>'unique')::boolean, false));
      RETURN coalesce(to_jsonb(masked), 'null'::jsonb);
  END CASE;
END $$;
`;

/** Session settings under which a value's text is the one pg_dump writes (so both paths hash the same text). */
export const MASK_SESSION_SQL = `SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET extra_float_digits = 3`;
