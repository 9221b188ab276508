import { describe, expect, it } from 'vitest';
import { arrayLiteral } from '../../src/datadiff/merge-stage.js';

/** The staging table's array literals: every element quoted, so that no text reads as another value. */
describe('merge staging: arrayLiteral', () => {
  it('quotes every element and escapes quotes and backslashes; NULL stays NULL, an empty string stays empty', () => {
    expect(arrayLiteral(['a', null, '', 'NULL', 'x,y', '{z}', 'say "hi"', 'back\\slash', ' sp '])).toBe(
      '{"a",NULL,"","NULL","x,y","{z}","say \\"hi\\"","back\\\\slash"," sp "}',
    );
  });
  it('booleans as t and f; an empty list as {}; no list as NULL', () => {
    expect(arrayLiteral([true, false])).toBe('{t,f}');
    expect(arrayLiteral([])).toBe('{}');
    expect(arrayLiteral(null)).toBeNull();
    expect(arrayLiteral(undefined)).toBeNull();
  });
});
