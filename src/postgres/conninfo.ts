import { UsageError } from '../core/errors.js';

/**
 * A parsed PostgreSQL connection string. Both URL form (`postgres://user:pw@host:5432/db?sslmode=…`)
 * and libpq key=value form (`host=… dbname=…`) parse into this one shape, so the rest of the code
 * never looks at raw strings again.
 */
export interface ConnInfo {
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  readonly password?: string;
  readonly database: string;
  /** Every other libpq parameter (sslmode, application_name, …), passed through untouched. */
  readonly params: Readonly<Record<string, string>>;
}

const MASK = '********';

function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}

/**
 * Whether a value names a connection (a postgres:// URL or libpq key=value) rather than a branch.
 * Every place that tells the two apart calls this one, so a check that refuses URLs and the code
 * that connects to them can never disagree.
 */
export function looksLikeConnectionString(value: string): boolean {
  return isPostgresUrl(value.trim()) || /^\s*\w+\s*=/.test(value);
}

export function parseConnInfo(input: string): ConnInfo {
  const text = input.trim();
  if (text === '') throw new UsageError('the database URL is empty');
  const raw = isPostgresUrl(text) ? parseUrl(text) : parseKeyValue(text);
  return normalise(raw);
}

function parseUrl(text: string): Record<string, string> {
  let url: URL;
  try {
    // libpq allows an empty host (postgres:///db, postgres://user@/db); WHATWG URL does not.
    url = new URL(text.replace(/^(postgres(?:ql)?:\/\/(?:[^@/?]*@)?)(?=[/?]|$)/i, '$1localhost'));
  } catch {
    throw new UsageError('the database URL is not a valid postgres:// URL', {
      hint: 'use the form postgres://user:password@host:5432/dbname',
    });
  }
  const out: Record<string, string> = {};
  if (url.hostname) out.host = decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1'));
  if (url.port) out.port = url.port;
  if (url.username) out.user = decodeURIComponent(url.username);
  if (url.password) out.password = decodeURIComponent(url.password);
  const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (db) out.dbname = db;
  for (const [key, value] of url.searchParams) out[key] = value;
  return out;
}

/** libpq's key=value syntax: values may be single-quoted, with \' and \\ escapes. */
function parseKeyValue(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  while (true) {
    skipSpace();
    if (i >= text.length) break;
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (!key || text[i] !== '=') {
      throw new UsageError('the database URL is neither a postgres:// URL nor a key=value connection string', {
        hint: 'use postgres://user:password@host:5432/dbname or host=… port=… dbname=…',
      });
    }
    i++;
    skipSpace();
    let value = '';
    if (text[i] === "'") {
      i++;
      while (i < text.length && text[i] !== "'") {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      if (text[i] !== "'") throw new UsageError('unterminated quoted value in the connection string');
      i++;
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
    }
    out[key] = value;
  }
  return out;
}

function normalise(raw: Record<string, string>): ConnInfo {
  const { host, port, user, password, dbname, ...params } = raw;
  const portNumber = port ? Number(port) : 5432;
  if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    throw new UsageError(`the database URL has an invalid port "${port}"`);
  }
  return {
    host: host || 'localhost',
    port: portNumber,
    user: user || undefined,
    password: password || undefined,
    database: dbname || user || 'postgres',
    params,
  };
}

export function withDatabase(info: ConnInfo, database: string): ConnInfo {
  return { ...info, database };
}

export interface FormatOptions {
  /** Show the password in clear. Only for `ayb branch url` and explicit `--show-password`. */
  readonly showPassword?: boolean;
  /** Leave the password out entirely (for argv of child processes). */
  readonly omitPassword?: boolean;
}

/** Renders a postgres:// URL; the password is masked unless asked for. */
export function formatConnInfo(info: ConnInfo, options: FormatOptions = {}): string {
  const host = info.host.includes(':') ? `[${info.host}]` : info.host;
  const isSocket = info.host.startsWith('/');
  let auth = '';
  if (info.user) {
    auth = encodeURIComponent(info.user);
    if (info.password && !options.omitPassword) {
      auth += ':' + (options.showPassword ? encodeURIComponent(info.password) : MASK);
    }
    auth += '@';
  }
  const query = new URLSearchParams(info.params);
  if (isSocket) query.set('host', info.host);
  const qs = query.toString();
  const hostPart = isSocket ? '' : `${host}:${info.port}`;
  return `postgres://${auth}${hostPart}/${encodeURIComponent(info.database)}${qs ? `?${qs}` : ''}`;
}

/** The host:port pair for messages (never includes credentials). */
export function describeServer(info: ConnInfo): string {
  return `${info.host}:${info.port}`;
}

/**
 * Environment for libpq child processes (pg_dump, psql). The password travels here, never in argv;
 * the connection string given in argv carries everything but the password.
 */
export function libpqEnv(info: ConnInfo): Record<string, string> {
  const env: Record<string, string> = {};
  if (info.password) env.PGPASSWORD = info.password;
  return env;
}

/**
 * Replaces every occurrence of the password in a piece of text, e.g. a child's stderr: in clear and
 * URL-encoded, wherever it stands as a token of its own. An occurrence inside a longer word is not
 * the password (`short` in `shortest`), so a password that happens to be a word masks that word
 * only where it stands alone, not every word that contains it.
 */
export function scrubSecret(text: string, info: ConnInfo | undefined): string {
  let out = text;
  const secret = info?.password;
  if (secret) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = replaceToken(out, form, MASK);
  }
  return out;
}

const WORD = /[\p{L}\p{N}_]/u;

/** `text` with each occurrence of `token` that is not glued to a letter or digit replaced by `by`. */
function replaceToken(text: string, token: string, by: string): string {
  const gluedBefore = WORD.test(token[0]!);
  const gluedAfter = WORD.test(token[token.length - 1]!);
  let out = '';
  let from = 0;
  for (let at = text.indexOf(token); at !== -1; at = text.indexOf(token, at + 1)) {
    if (at < from) continue;
    const before = at > 0 ? text[at - 1]! : '';
    const after = text[at + token.length] ?? '';
    if ((gluedBefore && before !== '' && WORD.test(before)) || (gluedAfter && after !== '' && WORD.test(after))) continue;
    out += text.slice(from, at) + by;
    from = at + token.length;
  }
  return out + text.slice(from);
}
