import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { AdminAuth, resolveAdminPassword, safeEqual } from '../../src/server/auth.js';
import { HttpError } from '../../src/server/http-error.js';
import { FailureLimiter } from '../../src/server/rate-limit.js';

// Wrap timingSafeEqual (still the real one) so the tests can see that secrets go through it.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function httpError(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}

describe('safeEqual', () => {
  it('compares strings of any length', () => {
    expect(safeEqual('secret', 'secret')).toBe(true);
    expect(safeEqual('secret', 'secreT')).toBe(false);
    expect(safeEqual('secret', 'secret-but-longer')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});

describe('AdminAuth tokens', () => {
  const ttl = 60 * 60_000;

  it('accepts a token it issued until it expires, then says it expired', () => {
    const time = clock();
    const auth = new AdminAuth({ password: 'pw', tokenTtlMs: ttl, now: time.now });
    const { token, expiresAt } = auth.login('pw', 'client');
    expect(expiresAt.getTime()).toBe(time.now() + ttl);
    expect(() => auth.verify(`Bearer ${token}`)).not.toThrow();
    time.advance(ttl - 1);
    expect(() => auth.verify(`Bearer ${token}`)).not.toThrow();
    time.advance(1);
    const error = httpError(() => auth.verify(`Bearer ${token}`));
    expect([error.status, error.code]).toEqual([401, 'token_expired']);
  });

  it('refuses missing, malformed, tampered and foreign tokens', () => {
    const auth = new AdminAuth({ password: 'pw', tokenTtlMs: ttl });
    const { token } = auth.issue();
    expect(httpError(() => auth.verify(undefined)).code).toBe('unauthorized');
    expect(httpError(() => auth.verify(token)).code).toBe('unauthorized');
    expect(httpError(() => auth.verify('Basic abc')).code).toBe('unauthorized');
    expect(httpError(() => auth.verify('Bearer nodots')).code).toBe('invalid_token');
    // Pushing the expiry forward breaks the MAC.
    const [expiry, nonce, mac] = token.split('.');
    const extended = `${(parseInt(expiry!, 36) + ttl).toString(36)}.${nonce}.${mac}`;
    expect(httpError(() => auth.verify(`Bearer ${extended}`)).code).toBe('invalid_token');
    const other = new AdminAuth({ password: 'pw', tokenTtlMs: ttl });
    expect(httpError(() => other.verify(`Bearer ${token}`)).code).toBe('invalid_token');
    const error = httpError(() => auth.verify(undefined));
    expect(error.status).toBe(401);
    expect(error.headers).toHaveProperty('WWW-Authenticate');
  });

  it('compares the password and the token MAC in constant time', () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    const auth = new AdminAuth({ password: 'pw', tokenTtlMs: ttl });
    spy.mockClear();
    expect(() => auth.login('wrong', 'c')).toThrow(HttpError);
    expect(spy).toHaveBeenCalledTimes(1);
    const { token } = auth.login('pw', 'c');
    spy.mockClear();
    auth.verify(`Bearer ${token}`);
    expect(spy).toHaveBeenCalledTimes(1);
  });
});

describe('AdminAuth login rate limit', () => {
  it('refuses a client after 5 failures within a minute, correct password included, until the window passes', () => {
    const time = clock();
    const auth = new AdminAuth({ password: 'pw', tokenTtlMs: 60_000, now: time.now });
    for (let i = 0; i < 5; i++) {
      expect(httpError(() => auth.login('guess' + i, 'attacker')).code).toBe('invalid_password');
      time.advance(1000);
    }
    const limited = httpError(() => auth.login('pw', 'attacker'));
    expect([limited.status, limited.code]).toEqual([429, 'too_many_attempts']);
    // The first failure was at t0, now is t0+5s: it leaves the window in 55 s.
    expect(limited.headers?.['Retry-After']).toBe('55');
    // Another address is not affected.
    expect(() => auth.login('pw', 'someone-else')).not.toThrow();
    time.advance(55_000);
    expect(() => auth.login('pw', 'attacker')).not.toThrow();
  });

  it('forgets a client\'s failures after a successful login', () => {
    const auth = new AdminAuth({ password: 'pw', tokenTtlMs: 60_000 });
    for (let i = 0; i < 4; i++) expect(() => auth.login('no', 'c')).toThrow(HttpError);
    auth.login('pw', 'c');
    for (let i = 0; i < 4; i++) expect(httpError(() => auth.login('no', 'c')).status).toBe(401);
    expect(() => auth.login('pw', 'c')).not.toThrow();
  });

  it('limits failures from all addresses together', () => {
    const auth = new AdminAuth({ password: 'pw', tokenTtlMs: 60_000, maxFailuresOverall: 3 });
    for (let i = 0; i < 3; i++) expect(() => auth.login('no', `client-${i}`)).toThrow(HttpError);
    expect(httpError(() => auth.login('pw', 'fresh-client')).status).toBe(429);
  });
});

describe('FailureLimiter', () => {
  it('uses a sliding window', () => {
    const time = clock();
    const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 10_000, now: time.now });
    limiter.recordFailure('k');
    time.advance(4000);
    limiter.recordFailure('k');
    expect(limiter.retryAfterMs('k')).toBe(6000);
    time.advance(6000);
    expect(limiter.retryAfterMs('k')).toBe(0);
    limiter.recordFailure('k');
    expect(limiter.retryAfterMs('k')).toBe(4000);
  });

  it('keeps at most maxKeys clients in memory', () => {
    const limiter = new FailureLimiter({ maxFailures: 1, windowMs: 10_000, maxKeys: 3 });
    for (let i = 0; i < 10; i++) limiter.recordFailure(`k${i}`);
    expect(limiter.retryAfterMs('k0')).toBe(0);
    expect(limiter.retryAfterMs('k9')).toBeGreaterThan(0);
  });
});

describe('resolveAdminPassword', () => {
  it('prefers AYB_ADMIN_PASSWORD, then [admin] password, else generates one', () => {
    expect(resolveAdminPassword('from-config', { AYB_ADMIN_PASSWORD: 'from-env' })).toEqual({ value: 'from-env', source: 'env' });
    expect(resolveAdminPassword('from-config', {})).toEqual({ value: 'from-config', source: 'config' });
    const a = resolveAdminPassword(undefined, {});
    const b = resolveAdminPassword(undefined, {});
    expect(a.source).toBe('generated');
    expect(a.value).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a.value).not.toBe(b.value);
  });
});

describe('a chosen admin password that is too short (issue 27)', () => {
  it('is refused with exit 2, from the environment and from ayb.toml alike', () => {
    for (const [configured, env] of [[undefined, { AYB_ADMIN_PASSWORD: 'admin' }], ['admin', {}]] as const) {
      let error: unknown;
      try {
        resolveAdminPassword(configured, env);
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'admin_password_weak', exitCode: 2 });
    }
    expect(resolveAdminPassword(undefined, { AYB_ADMIN_PASSWORD: '12345678' }).value).toBe('12345678');
  });
});
