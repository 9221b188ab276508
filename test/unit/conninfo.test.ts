import { describe, expect, it } from 'vitest';
import { pgDumpArgs, psqlArgs } from '../../src/clone/dump.js';
import { formatConnInfo, libpqEnv, parseConnInfo, scrubSecret } from '../../src/postgres/conninfo.js';

describe('connection strings', () => {
  it('parses postgres:// URLs with encoded credentials and parameters', () => {
    const info = parseConnInfo('postgresql://us%40er:p%40ss%2Fw@db.example:6543/my%20db?sslmode=require&application_name=x');
    expect(info).toEqual({
      host: 'db.example', port: 6543, user: 'us@er', password: 'p@ss/w', database: 'my db',
      params: { sslmode: 'require', application_name: 'x' },
    });
  });

  it('parses libpq key=value strings with quoted values', () => {
    const info = parseConnInfo("host=localhost port=5433 dbname='my db' user=app password='it''s' sslmode=disable".replace("''", "\\'"));
    expect(info).toMatchObject({ host: 'localhost', port: 5433, database: 'my db', user: 'app', password: "it's", params: { sslmode: 'disable' } });
  });

  it('defaults host, port and database like libpq', () => {
    expect(parseConnInfo('postgres://app@/')).toMatchObject({ host: 'localhost', port: 5432, database: 'app' });
  });

  it('rejects garbage and bad ports with a usage error', () => {
    expect(() => parseConnInfo('not a url')).toThrow(/neither a postgres:\/\/ URL nor a key=value/);
    expect(() => parseConnInfo('host=x port=99999')).toThrow(/invalid port/);
  });

  it('masks the password unless asked, and can leave it out', () => {
    const info = parseConnInfo('postgres://app:hunter2@h:5432/db');
    expect(formatConnInfo(info)).toBe('postgres://app:********@h:5432/db');
    expect(formatConnInfo(info, { showPassword: true })).toBe('postgres://app:hunter2@h:5432/db');
    expect(formatConnInfo(info, { omitPassword: true })).toBe('postgres://app@h:5432/db');
  });

  it('scrubs the password, plain and URL-encoded, from text', () => {
    const info = parseConnInfo('postgres://app:p%40ss@h/db');
    expect(scrubSecret('failed for p@ss and p%40ss', info)).toBe('failed for ******** and ********');
  });

  it('puts the password in the environment and never in pg_dump or psql argv', () => {
    const info = parseConnInfo('postgres://app:hunter2@h:5432/db?sslmode=require');
    const dumpArgs = pgDumpArgs(info, { keepOwnership: false, keepPrivileges: true, excludeTables: ['public._ayb_branches'] });
    const restoreArgs = psqlArgs(info);
    for (const args of [dumpArgs, restoreArgs]) expect(args.join(' ')).not.toContain('hunter2');
    expect(dumpArgs).toEqual([
      '--format=plain', '--no-password', '--no-owner', '--exclude-table=public._ayb_branches',
      '--dbname', 'postgres://app@h:5432/db?sslmode=require&application_name=ayb-pg_dump',
    ]);
    expect(restoreArgs).toEqual(['--no-psqlrc', '--quiet', '--no-password', '--set', 'ON_ERROR_STOP=1',
      '--dbname', 'postgres://app@h:5432/db?sslmode=require&application_name=ayb-psql']);
    expect(libpqEnv(info)).toEqual({ PGPASSWORD: 'hunter2' });
  });
});
