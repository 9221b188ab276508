import { describe, expect, it } from 'vitest';
import { castExact, typeWithoutModifier } from '../../src/datadiff/merge-stage.js';

describe('merge: a staged value cast exactly to its column type', () => {
  it('strips only the type modifier', () => {
    expect(typeWithoutModifier('character varying(3)')).toBe('character varying');
    expect(typeWithoutModifier('numeric(12,2)')).toBe('numeric');
    expect(typeWithoutModifier('timestamp(0) without time zone')).toBe('timestamp without time zone');
    expect(typeWithoutModifier('bit varying(3)[]')).toBe('bit varying[]');
    expect(typeWithoutModifier('public.mood')).toBe('public.mood');
  });

  it('a type without a modifier is a plain cast; one with a modifier is checked against the unconstrained type', () => {
    expect(castExact('s.v[1]', 'integer', 'public.t.n')).toBe('s.v[1]::integer');
    expect(castExact('s.v[1]', 'character varying(3)', 'public.t.c')).toBe(
      "CASE WHEN s.v[1]::character varying(3) IS NOT DISTINCT FROM s.v[1]::character varying THEN s.v[1]::character varying(3) ELSE pg_temp.ayb_merge_cut('public.t.c', s.v[1])::character varying(3) END");
    // bit and character without a length mean bit(1) and character(1): their unconstrained forms are "bit" and bpchar.
    expect(castExact('x', 'bit(3)', 'w')).toContain('x::"bit" THEN');
    expect(castExact('x', 'character(3)[]', 'w')).toContain('x::bpchar[] THEN');
  });
});
