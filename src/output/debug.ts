import { AybError } from '../core/errors.js';
import { MIN_ADMIN_PASSWORD_LENGTH } from '../core/secrets.js';
import { MIN_SECRET_LENGTH } from '../masking/secret.js';
import { looksLikeConnectionString, parseConnInfo, scrubSecret } from '../postgres/conninfo.js';

/** Environment variables whose value is, or may carry, a secret. */
const SECRET_VARIABLES = ['AYB_DATABASE_URL', 'PGPASSWORD', 'AYB_ADMIN_PASSWORD', 'AYB_MASKING_SECRET', 'DATABASE_URL'];

/**
 * Secrets that ayb refuses when they are shorter than this: such a value is never used, and the
 * refusal (`the masking secret … is too short`) must not have its words masked because one of them
 * happens to equal the refused value.
 */
const REFUSED_BELOW: Readonly<Record<string, number>> = {
  AYB_MASKING_SECRET: MIN_SECRET_LENGTH,
  AYB_ADMIN_PASSWORD: MIN_ADMIN_PASSWORD_LENGTH,
};

/**
 * The passwords this process was given: in connection strings among its arguments (`--from`,
 * `--database-url`, either as `--flag value` or `--flag=value`) and in the secret variables.
 */
export function knownSecrets(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const secrets = new Set<string>();
  const fromConnString = (value: string) => {
    if (!looksLikeConnectionString(value)) return;
    try {
      const password = parseConnInfo(value).password;
      if (password) secrets.add(password);
    } catch {
      // Not a connection string after all.
    }
  };
  for (const arg of argv) {
    fromConnString(arg);
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) fromConnString(arg.slice(eq + 1));
  }
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (!value) continue;
    if (value.length < (REFUSED_BELOW[name] ?? 0)) continue;
    if (looksLikeConnectionString(value)) fromConnString(value);
    else secrets.add(value);
  }
  return [...secrets];
}

/**
 * Masks every password a piece of text may hold: the known ones (in clear and URL-encoded, where
 * they stand as tokens of their own, not inside longer words), and any `user:password@` of a URL or
 * `password=` of a key=value string, known or not.
 */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a password that contains another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    out = scrubSecret(out, { host: '', port: 0, database: '', params: {}, password: secret });
  }
  return out
    .replace(/(\b[a-z][\w+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, '$1********@')
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+)/gi, '$1********');
}

/** `AYB_DEBUG=1`: the stack of what went wrong, with every password masked. */
export function debugTrace(cause: unknown, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const text = (cause as Error | undefined)?.stack ?? String(cause);
  return scrubText(text, knownSecrets(argv, env));
}

/** The error with every password masked in its message, hint and details (the cause is left for debugTrace). */
export function scrubError(error: AybError, secrets: readonly string[]): AybError {
  const scrub = (text: string) => scrubText(text, secrets);
  const message = scrub(error.message);
  const hint = error.hint === undefined ? undefined : scrub(error.hint);
  const details = error.details === undefined ? undefined : (JSON.parse(scrub(JSON.stringify(error.details))) as Record<string, unknown>);
  if (message === error.message && hint === error.hint && JSON.stringify(details) === JSON.stringify(error.details)) return error;
  const scrubbed = new AybError(error.code, error.exitCode, message, { hint, details, cause: error.cause });
  return scrubbed;
}
