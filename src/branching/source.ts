import type { CloneSource } from '../clone/clone.js';
import type { StrategyChoice } from '../config/schema.js';
import { ConflictError, NotFoundError, UsageError } from '../core/errors.js';
import type { Client } from '../postgres/client.js';
import { formatConnInfo, looksLikeConnectionString, parseConnInfo, withDatabase } from '../postgres/conninfo.js';
import type { BranchContext } from './context.js';
import { findRow } from './control-table.js';
import { lockKey, validateBranchName } from './names.js';

/** Where a branch is cloned from, resolved. */
export interface ResolvedSource extends CloneSource {
  /** Recorded in the control table: a database name, or a URL without its password. */
  readonly label: string;
  /** The branch or snapshot copied, when the source is one. */
  readonly parent: string | null;
  /** The snapshot copied, when the source is one: nobody ever connects to it, so it is always a template copy. */
  readonly snapshot: string | null;
  /** The source is a masked branch or snapshot: a copy of it is masked already. */
  readonly masked: boolean;
}

export function looksLikeUrl(value: string): boolean {
  return looksLikeConnectionString(value);
}

export async function resolveSource(ctx: BranchContext, client: Client, from: string | undefined): Promise<ResolvedSource> {
  if (from === undefined || from === 'main') {
    return { conn: ctx.main, label: ctx.main.database, sameServer: true, parent: null, snapshot: null, masked: false };
  }
  if (looksLikeUrl(from)) {
    const conn = parseConnInfo(from);
    const sameServer = conn.host === ctx.main.host && conn.port === ctx.main.port;
    return { conn, label: formatConnInfo(conn, { omitPassword: true }), sameServer, parent: null, snapshot: null, masked: false };
  }
  validateBranchName(from);
  const row = await findRow(client, from);
  if (!row) {
    throw new NotFoundError('source_not_found', `source branch "${from}" does not exist`, {
      hint: 'use main, an existing branch (ayb branch list), a snapshot (ayb snapshot list), or a postgres:// URL',
    });
  }
  if (row.status !== 'ready') {
    throw new ConflictError('source_not_ready', `source ${row.kind} "${from}" is not ready (status: ${row.status})`, {
      hint: `pick a ready one; check it with: ayb ${row.kind} show ${from}`,
    });
  }
  return {
    conn: withDatabase(ctx.main, row.branch_database),
    label: row.branch_database,
    sameServer: true,
    parent: row.name,
    snapshot: row.kind === 'snapshot' ? row.name : null,
    masked: row.masked,
  };
}

/** The lock a copy from `from` holds shared: set when `from` names a branch or a snapshot. */
export function parentLockFor(from: string | undefined): string | undefined {
  if (from === undefined || from === 'main' || looksLikeUrl(from)) return undefined;
  validateBranchName(from);
  return lockKey(from);
}

/** A snapshot is only ever copied by template: a dump would have to connect to it. */
export function strategyFor(source: ResolvedSource, requested: StrategyChoice): StrategyChoice {
  if (source.snapshot === null) return requested;
  if (requested === 'dump') {
    throw new UsageError(`snapshot "${source.snapshot}" is copied with the template strategy only (nobody connects to a snapshot)`, {
      hint: 'drop --strategy dump; a copy from a snapshot never needs it, since nobody is ever connected to one',
    });
  }
  return 'template';
}
