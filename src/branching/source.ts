import type { CloneSource } from '../clone/clone.js';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Client } from '../postgres/client.js';
import { formatConnInfo, parseConnInfo, withDatabase } from '../postgres/conninfo.js';
import type { BranchContext } from './context.js';
import { findRow } from './control-table.js';
import { branchDatabaseName, validateBranchName } from './names.js';

/** Where a branch is cloned from, resolved. */
export interface ResolvedSource extends CloneSource {
  /** Recorded in the control table: a database name, or a URL without its password. */
  readonly label: string;
  /** The parent branch, when the source is a branch. */
  readonly parent: string | null;
}

export function looksLikeUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value) || /^\s*\w+\s*=/.test(value);
}

export async function resolveSource(ctx: BranchContext, client: Client, from: string | undefined): Promise<ResolvedSource> {
  if (from === undefined || from === 'main') {
    return { conn: ctx.main, label: ctx.main.database, sameServer: true, parent: null };
  }
  if (looksLikeUrl(from)) {
    const conn = parseConnInfo(from);
    const sameServer = conn.host === ctx.main.host && conn.port === ctx.main.port;
    return { conn, label: formatConnInfo(conn, { omitPassword: true }), sameServer, parent: null };
  }
  validateBranchName(from);
  const row = await findRow(client, from);
  if (!row) {
    throw new NotFoundError('source_not_found', `source branch "${from}" does not exist`, {
      hint: 'use --from main, an existing branch (ayb branch list), or a postgres:// URL',
    });
  }
  if (row.status !== 'ready') {
    throw new ConflictError('source_not_ready', `source branch "${from}" is not ready (status: ${row.status})`, {
      hint: `pick a ready branch; check it with: ayb branch show ${from}`,
    });
  }
  return { conn: withDatabase(ctx.main, row.branch_database), label: row.branch_database, sameServer: true, parent: row.name };
}

/** The database whose lock a copy from `from` holds shared: set when `from` names a branch. */
export function parentLockFor(from: string | undefined): string | undefined {
  if (from === undefined || from === 'main' || looksLikeUrl(from)) return undefined;
  validateBranchName(from);
  return branchDatabaseName(from);
}
