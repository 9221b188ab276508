import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../core/errors.js';
import { MIN_ADMIN_PASSWORD_LENGTH } from '../core/secrets.js';
import { HttpError } from './http-error.js';
import { FailureLimiter } from './rate-limit.js';

/**
 * Admin authentication: one password, exchanged for short-lived bearer tokens.
 *
 * Tokens are `<expiry>.<nonce>.<mac>`, the MAC an HMAC-SHA256 under a key made fresh for each server
 * process, so tokens need no storage, cannot be forged or extended, and all die with the server.
 * Secrets are compared in constant time. Failed logins are limited per client address and overall.
 */
export interface AdminPassword {
  readonly value: string;
  /** Where it came from; `generated` means nobody chose it and it is printed once at start. */
  readonly source: 'env' | 'config' | 'generated';
}

export const ADMIN_PASSWORD_ENV = 'AYB_ADMIN_PASSWORD';

/** `AYB_ADMIN_PASSWORD` > `[admin] password` > a new random one. */
export function resolveAdminPassword(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): AdminPassword {
  const fromEnv = env[ADMIN_PASSWORD_ENV];
  if (fromEnv) return { value: checkLength(fromEnv, ADMIN_PASSWORD_ENV), source: 'env' };
  if (configured) return { value: checkLength(configured, '[admin] password'), source: 'config' };
  return { value: randomBytes(18).toString('base64url'), source: 'generated' };
}

function checkLength(password: string, where: string): string {
  if (password.length >= MIN_ADMIN_PASSWORD_LENGTH) return password;
  throw new UsageError(`the admin password in ${where} is too short (${password.length} characters; at least ${MIN_ADMIN_PASSWORD_LENGTH})`, {
    hint: `choose a longer one (e.g. openssl rand -base64 18), or unset ${ADMIN_PASSWORD_ENV} and [admin] password to have ayb start generate one`,
  }, 'admin_password_weak');
}

/** Constant-time equality of two strings of any lengths (compares their SHA-256 digests). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

export interface AdminAuthOptions {
  readonly password: string;
  readonly tokenTtlMs: number;
  /** Failed logins allowed per client address within `failureWindowMs` (default 5). */
  readonly maxFailuresPerClient?: number;
  /** Failed logins allowed from all addresses together within the window (default 50). */
  readonly maxFailuresOverall?: number;
  readonly failureWindowMs?: number;
  readonly now?: () => number;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: Date;
}

const ALL_CLIENTS = '*';

export class AdminAuth {
  private readonly key = randomBytes(32);
  private readonly now: () => number;
  private readonly perClient: FailureLimiter;
  private readonly overall: FailureLimiter;

  constructor(private readonly options: AdminAuthOptions) {
    this.now = options.now ?? Date.now;
    const windowMs = options.failureWindowMs ?? 60_000;
    this.perClient = new FailureLimiter({ maxFailures: options.maxFailuresPerClient ?? 5, windowMs, now: this.now });
    this.overall = new FailureLimiter({ maxFailures: options.maxFailuresOverall ?? 50, windowMs, now: this.now });
  }

  /** Exchanges the password for a token; throws 429 while `client` is rate-limited, 401 on a wrong password. */
  login(password: string, client: string): IssuedToken {
    const wait = Math.max(this.perClient.retryAfterMs(client), this.overall.retryAfterMs(ALL_CLIENTS));
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new HttpError(429, 'too_many_attempts', `too many failed logins; try again in ${seconds} s`, {
        hint: 'check the admin password ([admin] password in ayb.toml or AYB_ADMIN_PASSWORD)',
        headers: { 'Retry-After': String(seconds) },
      });
    }
    if (!safeEqual(password, this.options.password)) {
      this.perClient.recordFailure(client);
      this.overall.recordFailure(ALL_CLIENTS);
      throw new HttpError(401, 'invalid_password', 'wrong admin password', {
        hint: 'the password is [admin] password in ayb.toml, AYB_ADMIN_PASSWORD, or the one ayb start printed',
      });
    }
    this.perClient.reset(client);
    return this.issue();
  }

  issue(): IssuedToken {
    const expires = this.now() + this.options.tokenTtlMs;
    const body = `${expires.toString(36)}.${randomBytes(16).toString('base64url')}`;
    return { token: `${body}.${this.mac(body)}`, expiresAt: new Date(expires) };
  }

  /** Checks an `Authorization` header value; throws 401 unless it carries a valid, unexpired token. */
  verify(authorization: string | undefined): void {
    const challenge = { 'WWW-Authenticate': 'Bearer realm="ayb admin"' };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      throw new HttpError(401, 'unauthorized', 'this route needs an admin token', {
        hint: 'get one with POST /api/admin/auth {"password": …} and send it as "Authorization: Bearer <token>"',
        headers: challenge,
      });
    }
    const token = match[1]!;
    const cut = token.lastIndexOf('.');
    const body = token.slice(0, cut);
    const expires = parseInt(body.split('.')[0] ?? '', 36);
    if (cut <= 0 || !safeEqual(token.slice(cut + 1), this.mac(body)) || !Number.isFinite(expires)) {
      throw new HttpError(401, 'invalid_token', 'the admin token is not valid', {
        hint: 'log in again with POST /api/admin/auth (tokens end when the server restarts)',
        headers: challenge,
      });
    }
    if (expires <= this.now()) {
      throw new HttpError(401, 'token_expired', 'the admin token has expired', {
        hint: 'log in again with POST /api/admin/auth; [admin] token_ttl_minutes sets the lifetime',
        headers: challenge,
      });
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
