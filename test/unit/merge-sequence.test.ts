import { describe, expect, it } from 'vitest';
import { type SequenceState, sequenceAhead } from '../../src/datadiff/merge-output.js';

/** A sequence's state: last_value, is_called, and its parameters (ascending by 1 unless given). */
const seq = (last: number, called: boolean, p: Partial<Pick<SequenceState, 'inc' | 'min' | 'max' | 'cycle'>> = {}): SequenceState => ({
  last_value: String(last),
  is_called: called,
  inc: '1',
  min: '1',
  max: '9223372036854775807',
  cycle: false,
  ...p,
});
const down = { inc: '-1', min: '-9223372036854775808', max: '-1' };

describe('sequenceAhead: whether the branch advanced a sequence further than the target did since the base', () => {
  it('ascending: the branch further up moves it; the target further up, or level, does not', () => {
    expect(sequenceAhead(seq(2, true), seq(5, true), seq(3, true))).toBe(true);
    expect(sequenceAhead(seq(2, true), seq(5, true), seq(7, true))).toBe(false);
    expect(sequenceAhead(seq(2, true), seq(5, true), seq(5, true))).toBe(false);
  });
  it('descending (INCREMENT BY -1): forward is down', () => {
    expect(sequenceAhead(seq(-2, true, down), seq(-5, true, down), seq(-2, true, down))).toBe(true);
    expect(sequenceAhead(seq(-2, true, down), seq(-5, true, down), seq(-7, true, down))).toBe(false);
    expect(sequenceAhead(seq(-2, true, down), seq(-3, true, down), seq(-1, true, down))).toBe(true);
  });
  it('is_called false: the value not yet handed out; the same last_value called is one step further', () => {
    expect(sequenceAhead(seq(1, false), seq(1, true), seq(1, false))).toBe(true);
    expect(sequenceAhead(seq(1, false), seq(1, false), seq(1, true))).toBe(false);
    expect(sequenceAhead(seq(-1, false, down), seq(-1, true, down), seq(-1, false, down))).toBe(true);
  });
  it('a step other than 1 and a CYCLE sequence wrapped past its end: distances measured around its range', () => {
    expect(sequenceAhead(seq(10, true, { inc: '10' }), seq(40, true, { inc: '10' }), seq(30, true, { inc: '10' }))).toBe(true);
    const cyc = { min: '1', max: '10', cycle: true };
    // base next 9; branch took 9, 10, 1, 2 (next 3: four steps); the target took 9 (next 10: one step).
    expect(sequenceAhead(seq(8, true, cyc), seq(2, true, cyc), seq(9, true, cyc))).toBe(true);
    expect(sequenceAhead(seq(8, true, cyc), seq(9, true, cyc), seq(2, true, cyc))).toBe(false);
  });
  it('a branch value outside the target\'s MINVALUE..MAXVALUE is left alone (setval would fail)', () => {
    expect(sequenceAhead(seq(2, true), seq(50, true), seq(3, true, { max: '20' }))).toBe(false);
  });
  it('the parameters the target will have: the branch\'s when only it changed them', () => {
    // The branch turned the sequence to count down and took -1; the target never touched it: the branch's state.
    expect(sequenceAhead(seq(5, true), seq(-1, true, down), seq(5, true))).toBe(true);
    expect(sequenceAhead(seq(5, true, { min: '-100' }), seq(-1, true, { inc: '-1', min: '-100' }), seq(5, true, { min: '-100' }))).toBe(true);
  });
});
