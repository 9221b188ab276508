import { describe, expect, it } from 'vitest';
import { AybError } from '../../src/core/errors.js';
import { debugTrace, knownSecrets, scrubError, scrubText } from '../../src/output/debug.js';

describe('scrubbing passwords from what ayb prints', () => {
  it('finds the passwords of connection strings in argv (both flag forms) and of the secret variables', () => {
    const argv = ['branch', 'create', 'x', '--from', 'postgres://u:p%40ss@h/db', '--database-url=host=h password=kv-secret'];
    expect(knownSecrets(argv, { PGPASSWORD: 'envpw', AYB_DATABASE_URL: 'postgres://m:mainpw@h/db', HOME: '/root' }).sort())
      .toEqual(['envpw', 'kv-secret', 'mainpw', 'p@ss']);
  });

  it('masks known passwords in clear and URL-encoded, and any URL or key=value password', () => {
    expect(scrubText('a p@ss and p%40ss', ['p@ss'])).toBe('a ******** and ********');
    expect(scrubText('at postgres://u:unknown@h/db', [])).toBe('at postgres://u:********@h/db');
    expect(scrubText("host=h password='it\\'s x' dbname=x", [])).toBe('host=h password=******** dbname=x');
  });

  it('a debug trace and an error come back masked', () => {
    const cause = new Error('failed for postgres://u:topsecret@h/db');
    expect(debugTrace(cause, [], {})).not.toContain('topsecret');
    const error = scrubError(new AybError('unexpected', 1, 'uses s3cret', { hint: 's3cret again', details: { url: 's3cret' }, cause }), ['s3cret']);
    expect([error.message, error.hint, error.details]).toEqual(['uses ********', '******** again', { url: '********' }]);
    expect(error.cause).toBe(cause);
  });
});
