import { describe, expect, it } from 'vitest';
import { diagnosticLines } from '../../src/clone/dump.js';

describe('diagnosticLines', () => {
  it('keeps the error and the server message, not the SQL pg_dump quotes after them', () => {
    const stderr = [
      'pg_dump: error: query failed: FATAL:  terminating connection due to administrator command',
      'server closed the connection unexpectedly',
      '\tThis probably means the server terminated abnormally',
      'pg_dump: detail: Command was: SELECT',
      'a.attnum,',
      'a.attname,',
      'a.atttypmod,',
      'a.attstattarget,',
      'a.attstorage,',
      'FROM pg_catalog.pg_attribute a',
    ].join('\n');
    const said = diagnosticLines(stderr);
    expect(said).toMatch(/terminating connection due to administrator command/);
    expect(said).not.toMatch(/attname|Command was/);
  });

  it('keeps psql errors with their line numbers', () => {
    const stderr = 'SET\npsql:<stdin>:12: ERROR:  role "app" does not exist\nALTER TABLE';
    expect(diagnosticLines(stderr)).toBe('psql:<stdin>:12: ERROR:  role "app" does not exist');
  });

  it('falls back to the last lines when nothing looks like a diagnostic', () => {
    const stderr = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'].join('\n');
    expect(diagnosticLines(stderr)).toBe('two\nthree\nfour\nfive\nsix\nseven');
  });
});
