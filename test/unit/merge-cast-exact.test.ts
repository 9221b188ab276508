import { describe, expect, it } from 'vitest';
import { exactCasts, typeWithoutModifier } from '../../src/datadiff/merge-stage.js';

describe('merge: a staged value cast exactly to its column type', () => {
  it('strips only the type modifier', () => {
    expect(typeWithoutModifier('character varying(3)')).toBe('character varying');
    expect(typeWithoutModifier('numeric(12,2)')).toBe('numeric');
    expect(typeWithoutModifier('timestamp(0) without time zone')).toBe('timestamp without time zone');
    expect(typeWithoutModifier('bit varying(3)[]')).toBe('bit varying[]');
    expect(typeWithoutModifier('public.mood')).toBe('public.mood');
  });

  it('a type without a modifier is a plain cast; one with a modifier is parsed once, in a LATERAL, and checked against the unconstrained type', () => {
    expect(exactCasts([{ expr: 's.v[1]', type: 'integer', what: 'public.t.n' }])).toEqual({ from: '', values: ['s.v[1]::integer'] });
    const casts = exactCasts([
      { expr: 's.v[1]', type: 'integer', what: 'public.t.n' },
      { expr: 's.v[2]', type: 'character varying(3)', what: 'public.t.c', when: 's.m[2]' },
    ]);
    expect(casts.values).toEqual([
      's.v[1]::integer',
      "CASE WHEN ayb_cast.c1 IS NOT DISTINCT FROM ayb_cast.w1 THEN ayb_cast.c1 ELSE pg_temp.ayb_merge_cut('public.t.c', s.v[2])::character varying(3) END",
    ]);
    expect(casts.from).toBe(' CROSS JOIN LATERAL (SELECT u.w1::character varying(3) AS c1, u.w1 FROM (SELECT CASE WHEN s.m[2] THEN s.v[2] END::character varying AS w1 OFFSET 0) u OFFSET 0) ayb_cast');
    // bit and character without a length mean bit(1) and character(1): their unconstrained forms are "bit" and bpchar.
    expect(exactCasts([{ expr: 'x', type: 'bit(3)', what: 'w' }]).from).toContain('x::"bit" AS w0');
    expect(exactCasts([{ expr: 'x', type: 'character(3)[]', what: 'w' }]).from).toContain('x::bpchar[] AS w0');
  });
});
