import type { Transform } from 'node:stream';
import type { MaskingRule } from '../config/schema.js';
import { UsageError } from '../core/errors.js';
import { withClient } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { maskingStream } from './copy-stream.js';
import { Masker } from './functions.js';
import { maskInPlace } from './in-place.js';
import { planMasking, qualified, readCatalog } from './plan.js';
import { rulesError } from './problems.js';

/** How one copy gets masked: in the dump stream (source on another server) or in place afterwards. */
export interface MaskingJob {
  /** Source on another server: rows are masked between pg_dump and psql. */
  readonly rewriteDump?: () => Transform;
  /** Source on this server: the new database is masked in place once copied. */
  readonly afterCopy?: (target: ConnInfo) => Promise<void>;
}

export interface MaskingRequest {
  readonly rules: readonly MaskingRule[];
  readonly secret: string;
  readonly source: { readonly conn: ConnInfo; readonly sameServer: boolean };
  readonly log?: (line: string) => void;
}

/**
 * Decides how a copy is masked. A source on another server is planned from its own catalog now, so
 * that a bad rule fails before a byte is copied, and the originals never reach this server.
 */
export async function prepareMasking(request: MaskingRequest): Promise<MaskingJob> {
  const { rules, secret, log } = request;
  if (request.source.sameServer) {
    return { afterCopy: (target) => withClient(target, async (client) => void (await maskInPlace(client, rules, secret, log))) };
  }
  const plan = planMasking(await withClient(request.source.conn, readCatalog), rules);
  if (plan.problems.length > 0) throw rulesError(plan.problems);
  const sqlRules = plan.tables.flatMap((t) => t.columns.filter((c) => c.mask.kind === 'sql').map((c) => `${qualified(t)}.${c.column}`));
  if (sqlRules.length > 0) {
    throw new UsageError(`sql masking rules cannot be applied to a source on another server (${sqlRules.join(', ')})`, {
      hint: 'the dump stream masks rows in ayb itself, where SQL cannot run; use another function for these columns, or copy the source to this server first',
    }, 'masking_sql_in_stream');
  }
  const masker = new Masker(secret);
  log?.(`Masking ${plan.tables.length} table(s) in the dump stream …`);
  return { rewriteDump: () => maskingStream(plan, masker) };
}
