import { describe, expect, it } from 'vitest';
import { branchDatabaseName, suggestBranchName, validateBranchName } from '../../src/branching/names.js';
import { AybError } from '../../src/core/errors.js';

function reason(name: string): string | undefined {
  try {
    validateBranchName(name);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(AybError);
    expect((error as AybError).exitCode).toBe(2);
    return (error as AybError).message;
  }
}

describe('branch names', () => {
  it.each(['a', 'dev', 'feature-auth', 'pr_123', '1', 'a-b_c-9', 'x'.repeat(52)])('accepts %s', (name) => {
    expect(reason(name)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['x'.repeat(53), /53 characters long; the limit is 52/],
    ['Feature', /uppercase/],
    ['-lead', /must start and end/],
    ['trail-', /must start and end/],
    ['_x', /must start and end/],
    ['has space', /contains " "/],
    ['semi;colon', /contains ";"/],
    ['dot.name', /contains "."/],
    ['ümlaut', /contains "ü"/],
    ['quote"d', /contains """/],
    // Every rule broken, not only the first (issue 27).
    ['Bad Name', /^invalid branch name "Bad Name": it has uppercase letters and contains " " \(a space\)$/],
    ['A.b;c', /it has uppercase letters, contains "\." and contains ";"$/],
  ])('rejects %j', (name, why) => {
    expect(reason(name)).toMatch(why);
  });

  it.each(['main', 'master', 'default', 'postgres', 'template0', 'template1'])('reserves %s', (name) => {
    expect(reason(name)).toMatch(/reserved/);
  });

  it('maps hyphens to underscores so a-b and a_b share one database name', () => {
    expect(branchDatabaseName('a-b')).toBe('ayb_branch_a_b');
    expect(branchDatabaseName('a_b')).toBe('ayb_branch_a_b');
    expect(branchDatabaseName('x'.repeat(52)).length).toBe(63);
  });

  it.each([
    ['Bad Name', 'bad-name'],
    ['Feat/X', 'feat-x'],
    ['Feature', 'feature'],
    ['-lead', 'lead'],
    ['dot.name', 'dot-name'],
    ['x'.repeat(60), 'x'.repeat(52)],
    ['ümlaut', 'mlaut'],
  ])('suggests a valid name for %j: %j', (name, suggestion) => {
    expect(suggestBranchName(name)).toBe(suggestion);
    expect(reason(suggestion)).toBeUndefined();
    expect(hint(name)).toContain(`e.g. ${suggestion}`);
  });

  it.each(['', '-', '%%%', 'Main', 'TEMPLATE1'])('suggests nothing rather than another invalid or reserved name for %j', (name) => {
    expect(suggestBranchName(name)).toBeUndefined();
  });

  it('every suggestion is valid', () => {
    for (const name of ['A B C', '__x__', 'a--b', 'UPPER_case-Mixed/Path.ext', ' spaced ', 'ü-ö', 'pr #42', 'x'.repeat(51) + '-y']) {
      const suggestion = suggestBranchName(name);
      if (suggestion !== undefined) expect(reason(suggestion), `${name} → ${suggestion}`).toBeUndefined();
    }
  });
});

function hint(name: string): string | undefined {
  try {
    validateBranchName(name);
    return undefined;
  } catch (error) {
    return (error as AybError).hint;
  }
}
