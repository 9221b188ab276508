import { isPointInTime, parsePointInTime, type PointInTime } from '../history/point-in-time.js';
import { type ConnInfo, formatConnInfo, looksLikeConnectionString, parseConnInfo } from '../postgres/conninfo.js';

/**
 * What a copy is made of, parsed once where it comes in (a CLI flag, an API body, a library or MCP
 * argument, a branch's record) and passed on as this value: the domain never parses the text again.
 */
export type SourceRef =
  /** The main database as it is now. */
  | { readonly kind: 'main' }
  /** A branch or a snapshot, by name (resolved against the control table by the domain). */
  | { readonly kind: 'record'; readonly name: string }
  /** A connection string (`postgres://…` or key=value); `label` is it without its password, as recorded. */
  | { readonly kind: 'url'; readonly conn: ConnInfo; readonly label: string }
  /** `main@<time>`: main as it was at a moment, restored from the managed PostgreSQL's history. */
  | { readonly kind: 'point-in-time'; readonly at: PointInTime };

/** What a branch's record says it was made from (`source_database`): a source, or a database by name. */
export type RecordedSource = Exclude<SourceRef, { kind: 'record' }> | { readonly kind: 'database'; readonly database: string };

export const MAIN_SOURCE: SourceRef = { kind: 'main' };

export interface ParseOptions {
  /** Called before a connection string is parsed: the admin API refuses URLs unless allowed. */
  readonly onUrl?: () => void;
  /** The clock `main@-2h` counts back from. */
  readonly now?: Date;
}

/**
 * `--from`, `--of`, `"from"`, `"of"`: `main` (or nothing), a connection string, `main@<time>`, or
 * else the name of a branch or snapshot. A malformed URL or moment is refused here (exit 2), before
 * anything connects; a name is checked where it is looked up.
 */
export function parseSourceRef(text: string | undefined, options: ParseOptions = {}): SourceRef {
  if (text === undefined || text === 'main') return MAIN_SOURCE;
  if (looksLikeConnectionString(text)) {
    options.onUrl?.();
    return urlRef(text);
  }
  if (isPointInTime(text)) return { kind: 'point-in-time', at: parsePointInTime(text, options.now) };
  return { kind: 'record', name: text };
}

/** A branch's recorded source (`source_database`: main's database name, a URL without password, `main@<time>`, or another database). */
export function parseRecordedSource(recorded: string, mainDatabase: string): RecordedSource {
  if (recorded === mainDatabase) return MAIN_SOURCE as RecordedSource;
  if (looksLikeConnectionString(recorded)) return urlRef(recorded);
  // The moment, not "now": a branch of main@<time> resets to main as it was then.
  if (isPointInTime(recorded)) return { kind: 'point-in-time', at: parsePointInTime(recorded) };
  return { kind: 'database', database: recorded };
}

/** The source as a user writes it: `main`, a name, a URL without its password, `main@<time>`. */
export function sourceRefText(ref: SourceRef): string {
  switch (ref.kind) {
    case 'main':
      return 'main';
    case 'record':
      return ref.name;
    case 'url':
      return ref.label;
    case 'point-in-time':
      return ref.at.label;
  }
}

/** The warning for a connection string with a password given as `flag` on the command line, if it has one. */
export function passwordInArgvWarning(flag: string, value: string | undefined, instead: string): string | undefined {
  if (value === undefined || !looksLikeConnectionString(value)) return undefined;
  try {
    if (!parseConnInfo(value).password) return undefined;
  } catch {
    return undefined;
  }
  return `warning: the password in ${flag} is visible to other users of this machine (ps) and stays in your shell history; leave it out and use ${instead} or ~/.pgpass`;
}

function urlRef(text: string): SourceRef & { kind: 'url' } {
  const conn = parseConnInfo(text);
  return { kind: 'url', conn, label: formatConnInfo(conn, { omitPassword: true }) };
}
