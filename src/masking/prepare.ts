import type { Transform } from 'node:stream';
import type { MaskingRule } from '../config/schema.js';
import { type Client, connect, withClient } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { maskingStream, type SqlEvaluator } from './copy-stream.js';
import { MASK_SESSION_SQL } from './sql-functions.js';
import { Masker } from './functions.js';
import { maskInPlace } from './in-place.js';
import { planMasking, readCatalog } from './plan.js';
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
  const masker = new Masker(secret);
  log?.(`Masking ${plan.tables.length} table(s) in the dump stream …`);
  const needsSql = plan.tables.some((t) => t.columns.some((c) => c.mask.kind === 'sql'));
  return { rewriteDump: () => maskingStream(plan, masker, needsSql ? sourceEvaluator(request.source.conn) : undefined) };
}

/**
 * Runs \`sql\` rules on the source's server, in a read-only session with the settings under which
 * pg_dump wrote the values: one query per column per chunk of the dump. The expression sees the
 * column under its own name (and its table's), as it does in place.
 */
function sourceEvaluator(conn: ConnInfo): SqlEvaluator {
  let client: Promise<Client> | undefined;
  const session = () => {
    client ??= connect(conn).then(async (c) => {
      await c.query(`SET default_transaction_read_only = on; ${MASK_SESSION_SQL}`);
      return c;
    });
    return client;
  };
  return {
    async evaluate(table, column, values) {
      if (column.mask.kind !== 'sql') throw new Error(`${column.column} has no sql rule`);
      const { rows } = await (await session()).query<{ v: string | null }>(
        `SELECT (${column.mask.expression})::text AS v
           FROM (SELECT u.v::${column.type} AS ${quoteIdent(column.column)}, u.n FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n)) AS ${quoteIdent(table)}
          ORDER BY n`,
        [values],
      );
      return rows.map((r) => r.v);
    },
    async close() {
      if (client) await (await client).end().catch(() => undefined);
    },
  };
}
