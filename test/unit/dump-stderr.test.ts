import { describe, expect, it } from 'vitest';
import { diagnosticLines, restoreFailureHint } from '../../src/clone/dump.js';

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

describe('restoreFailureHint', () => {
  it('blames an outage for a server that went away, not a missing role or extension', () => {
    const outage = 'psql:<stdin>:120: FATAL:  terminating connection due to administrator command\nserver closed the connection unexpectedly';
    expect(restoreFailureHint(outage)).toMatch(/the server went away during the restore/);
    expect(restoreFailureHint(outage)).not.toMatch(/missing role/);
    expect(restoreFailureHint('psql:<stdin>:7: ERROR:  could not extend file "base/1/2": No space left on device')).toMatch(/ran out of disk/);
    expect(restoreFailureHint('psql:<stdin>:9: ERROR:  role "alice" does not exist')).toMatch(/missing role or extension/);
  });
});
