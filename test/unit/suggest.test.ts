import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../src/core/suggest.js';
import { notFoundError } from '../../src/output/command-not-found.js';

const IDS = ['branch:create', 'branch:list', 'branch:show', 'branch:delete', 'snapshot:list', 'start', 'stop', 'help', 'version'];

describe('did you mean', () => {
  it('counts a swap of two letters as one edit', () => {
    expect(editDistance('strat', 'start')).toBe(1);
    expect(editDistance('lst', 'list')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests the closest candidate, and nothing when nothing is close', () => {
    expect(closest('jsn', ['json', 'config', 'database-url'])).toBe('json');
    expect(closest('dmo', ['demo', 'dev'])).toBe('demo');
    expect(closest('completely-different', ['json', 'config'])).toBeUndefined();
  });

  it.each([
    [['brnch', 'list'], /^"brnch list" is not an ayb command$/, 'did you mean: ayb branch list?', 'command_not_found'],
    [['branch', 'lst'], /^"branch lst" is not an ayb command$/, 'did you mean: ayb branch list?', 'command_not_found'],
    [['strat'], /^"strat" is not an ayb command$/, 'did you mean: ayb start?', 'command_not_found'],
    [['snapshots'], /^"snapshots" is not an ayb command$/, 'did you mean: ayb snapshot?', 'command_not_found'],
    [['branch', 'list', 'extra-arg'], /^unexpected argument: extra-arg$/, '"ayb branch list" takes no such argument; see: ayb branch list --help', 'unexpected_argument'],
    [['stop', 'now', 'please'], /^unexpected arguments: now please$/, '"ayb stop" takes no arguments; see: ayb stop --help', 'unexpected_argument'],
  ])('%j', (words, message, hint, code) => {
    const error = notFoundError(words, IDS);
    expect(error.message).toMatch(message);
    expect(error.hint).toBe(hint);
    expect(error.code).toBe(code);
    expect(error.exitCode).toBe(2);
  });

  it('lists the topic\'s commands when no command is close', () => {
    expect(notFoundError(['branch', 'zzzzzzzz'], IDS).hint).toBe('branch commands: branch create, branch delete, branch list, branch show');
  });
});
