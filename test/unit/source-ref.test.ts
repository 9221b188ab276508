import { describe, expect, it } from 'vitest';
import { MAIN_SOURCE, parseRecordedSource, parseSourceRef, passwordInArgvWarning, sourceRefText } from '../../src/copy/source-ref.js';
import { AybError } from '../../src/core/errors.js';

const NOW = new Date('2026-12-02T12:00:00.000Z');

function refused(text: string): AybError {
  try {
    parseSourceRef(text, { now: NOW });
  } catch (error) {
    expect(error).toBeInstanceOf(AybError);
    return error as AybError;
  }
  throw new Error(`expected ${text} to be refused`);
}

describe('parseSourceRef', () => {
  it('reads nothing and "main" as main', () => {
    expect(parseSourceRef(undefined)).toEqual(MAIN_SOURCE);
    expect(parseSourceRef('main')).toEqual({ kind: 'main' });
  });

  it('reads a name as a branch or snapshot, checked where it is looked up', () => {
    expect(parseSourceRef('feature-auth')).toEqual({ kind: 'record', name: 'feature-auth' });
    expect(parseSourceRef('Bad Name')).toEqual({ kind: 'record', name: 'Bad Name' });
  });

  it('reads a URL and a key=value string as a connection, labelled without the password', () => {
    const url = parseSourceRef('postgres://app:s3cret@staging:5433/shop?sslmode=require');
    expect(url.kind).toBe('url');
    if (url.kind !== 'url') return;
    expect(url.conn).toMatchObject({ host: 'staging', port: 5433, user: 'app', password: 's3cret', database: 'shop' });
    expect(url.label).not.toContain('s3cret');
    expect(url.label).toContain('staging:5433/shop');
    const kv = parseSourceRef('host=db1 port=5432 dbname=app user=me');
    expect(kv).toMatchObject({ kind: 'url', conn: { host: 'db1', port: 5432, database: 'app', user: 'me' } });
  });

  it('reads main@<time> as a moment: a duration ago or an ISO time with a zone', () => {
    expect(parseSourceRef('main@-2h', { now: NOW })).toMatchObject({ kind: 'point-in-time', at: { time: '2026-12-02T10:00:00.000Z', label: 'main@2026-12-02T10:00:00.000Z' } });
    expect(parseSourceRef('main@2026-11-30T14:00Z', { now: NOW })).toMatchObject({ kind: 'point-in-time', at: { label: 'main@2026-11-30T14:00Z' } });
  });

  it('refuses a moment of anything but main, and a moment that does not parse, with invalid_point_in_time', () => {
    expect(refused('feature@-2h').code).toBe('invalid_point_in_time');
    expect(refused('main@yesterday').code).toBe('invalid_point_in_time');
    expect(refused('main@2026-02-30T10:00Z').code).toBe('invalid_point_in_time');
  });

  it('asks before it parses a URL (the admin API refuses URLs unless allowed), and only for a URL', () => {
    const seen: string[] = [];
    const onUrl = () => seen.push('url');
    parseSourceRef('main', { onUrl });
    parseSourceRef('feature-auth', { onUrl });
    parseSourceRef('main@-1h', { onUrl });
    expect(seen).toEqual([]);
    expect(() => parseSourceRef('postgres://x@h/db', { onUrl: () => { throw new Error('refused'); } })).toThrow('refused');
  });

  it('writes a source back as a user writes it', () => {
    for (const text of ['main', 'feature-auth', 'main@2026-11-30T14:00Z']) expect(sourceRefText(parseSourceRef(text))).toBe(text);
    expect(sourceRefText(parseSourceRef('postgres://app:pw@staging:5432/shop'))).not.toContain('pw@');
  });
});

describe('parseRecordedSource', () => {
  it("reads main's database name, a URL, a moment and any other database from a record", () => {
    expect(parseRecordedSource('app', 'app')).toEqual({ kind: 'main' });
    expect(parseRecordedSource('postgres://app@staging:5432/shop', 'app')).toMatchObject({ kind: 'url', conn: { host: 'staging', database: 'shop' } });
    expect(parseRecordedSource('main@2026-11-30T14:00Z', 'app')).toMatchObject({ kind: 'point-in-time', at: { label: 'main@2026-11-30T14:00Z' } });
    expect(parseRecordedSource('legacy_db', 'app')).toEqual({ kind: 'database', database: 'legacy_db' });
  });
});

describe('passwordInArgvWarning', () => {
  it('warns for a connection string that carries a password, and only then', () => {
    expect(passwordInArgvWarning('--from', 'postgres://u:pw@h/db', 'PGPASSWORD')).toMatch(/^warning: the password in --from is visible/);
    expect(passwordInArgvWarning('--from', 'postgres://u@h/db', 'PGPASSWORD')).toBeUndefined();
    expect(passwordInArgvWarning('--from', 'feature-auth', 'PGPASSWORD')).toBeUndefined();
    expect(passwordInArgvWarning('--from', undefined, 'PGPASSWORD')).toBeUndefined();
  });
});
