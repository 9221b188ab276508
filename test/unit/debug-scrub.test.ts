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

  it('masks a secret where it stands alone, not inside longer words that contain it (issue 27)', () => {
    expect(scrubText('role "app" failed for app_user at app:app@h', ['app'])).toBe('role "********" failed for app_user at ********:********@h');
    expect(scrubText('the shortest path; short it is', ['short'])).toBe('the shortest path; ******** it is');
    expect(scrubText('x-pw-1 and pw-1', ['pw-1'])).toBe('x-******** and ********');
  });

  it('leaves out secrets that ayb refuses as too short, so the refusal keeps its words (issue 27)', () => {
    const env = { AYB_MASKING_SECRET: 'short', AYB_ADMIN_PASSWORD: 'admin', PGPASSWORD: 'pw' };
    expect(knownSecrets([], env)).toEqual(['pw']);
    const refusal = new AybError('masking_secret_weak', 2, 'the masking secret in AYB_MASKING_SECRET is too short (5 characters; at least 16)', { hint: 'the admin password' });
    expect(scrubError(refusal, knownSecrets([], env))).toBe(refusal);
    expect(knownSecrets([], { AYB_MASKING_SECRET: 'a-long-enough-masking-secret', AYB_ADMIN_PASSWORD: 'long enough' }).sort()).toEqual(['a-long-enough-masking-secret', 'long enough']);
  });
});
