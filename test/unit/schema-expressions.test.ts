import { describe, expect, it } from 'vitest';
import { canonicalExpression, reparseable } from '../../src/schema/expressions.js';

// Forms PostgreSQL 15 printed for `s IN ('a', 'b')` on a varchar column, before and after a round trip.
const WRITTEN = "CHECK (((s)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))";
const REPARSED = "CHECK (((s)::text = ANY (ARRAY[('a'::character varying)::text, ('b'::character varying)::text])))";

describe('stored expressions', () => {
  it('emits a varchar IN list so that the server parses it back to the same tree', () => {
    expect(reparseable(WRITTEN)).toBe("CHECK (((s)::text = ANY (ARRAY['a'::character varying, 'b'::character varying])))");
    // The second form is already what the parser gives back: left alone.
    expect(reparseable(REPARSED)).toBe(REPARSED);
  });

  it('compares both forms as one', () => {
    expect(canonicalExpression(WRITTEN)).toBe(canonicalExpression(REPARSED));
    expect(canonicalExpression(WRITTEN)).not.toBe(canonicalExpression(WRITTEN.replace("'b'", "'c'")));
  });

  it('handles NOT IN, NULL elements, quotes and commas inside literals', () => {
    const text = "((s)::text <> ALL ((ARRAY['x, y'::character varying, 'it''s'::character varying, NULL::character varying])::text[]))";
    expect(reparseable(text)).toBe("((s)::text <> ALL (ARRAY['x, y'::character varying, 'it''s'::character varying, NULL::character varying]))");
    expect(canonicalExpression(text)).toBe(
      "((s)::text <> ALL (ARRAY[('x, y'::character varying)::text, ('it''s'::character varying)::text, (NULL::character varying)::text]))",
    );
  });

  it('keeps a nested AND on the left nested (BETWEEN), and compares it with its flat form', () => {
    const nested = "CHECK ((((d >= '2000-01-01'::date) AND (d <= '2100-01-01'::date)) AND (n > 0)))";
    const flat = "CHECK (((d >= '2000-01-01'::date) AND (d <= '2100-01-01'::date) AND (n > 0)))";
    expect(reparseable(nested)).toBe("CHECK ((((d >= '2000-01-01'::date) AND (d <= '2100-01-01'::date))::boolean AND (n > 0)))");
    expect(reparseable(flat)).toBe(flat);
    expect(canonicalExpression(nested)).toBe(flat);
    // A nested OR inside an AND is a different tree: not flattened.
    const mixed = '(((a > 1) OR (b > 1)) AND (c > 1))';
    expect(canonicalExpression(mixed)).toBe(mixed);
  });

  it('leaves text without those forms as it is, quoted AND included', () => {
    const text = "((note = 'x AND y'::text) AND (\"AND\" > 0))";
    expect(reparseable(text)).toBe(text);
    expect(canonicalExpression(text)).toBe(text);
  });
});
