import type { Transform } from 'node:stream';
import type { MaskingRule } from '../config/schema.js';
import { type Client, connect, withClient } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { maskingStream, type SqlEvaluator } from './copy-stream.js';
import { MASK_SESSION_SQL } from './sql-functions.js';
import { Masker } from './functions.js';
import { CONTROL_TABLE } from '../core/records.js';
import { timeoutStatements } from '../postgres/timeouts.js';
import { maskInPlace, recomputeDerived } from './in-place.js';
import { type Catalog, type MaskPlan, planMasking, qualified, readCatalog, uncoveredColumns } from './plan.js';
import { coverageError, rulesError } from './problems.js';
import { type CatalogKeep, closeSideChannels, originalsOn } from './side-channels.js';
import { sampleOriginals, searchCopy, type Verification, verificationError } from './verify.js';

/** How one copy gets masked: in the dump stream (source on another server) or in place afterwards. */
export interface MaskingJob {
  /** Source on another server: rows are masked between pg_dump and psql. */
  readonly rewriteDump?: () => Transform;
  /**
   * Once copied: masks in place (same server) or recomputes derived columns (stream), closes the
   * side channels, then searches the copy for sampled originals. Throws (and the copy is dropped)
   * when any is found.
   */
  readonly afterCopy: (target: ConnInfo) => Promise<Verification>;
}

export interface MaskingRequest {
  readonly rules: readonly MaskingRule[];
  readonly secret: string;
  readonly source: { readonly conn: ConnInfo; readonly sameServer: boolean };
  /** `[masking] keep` and `ignore`: text-capable columns carried as they are. */
  readonly keep?: readonly string[];
  /** `[masking] keep_catalog`. */
  readonly keepCatalog?: readonly CatalogKeep[];
  readonly log?: (line: string) => void;
}

/** The plan of a masked copy of the database `client` is connected to, refused when a rule cannot apply or a column is not covered. */
export async function planCoveredMasking(client: Client, rules: readonly MaskingRule[], keep: readonly string[]): Promise<{ plan: MaskPlan; catalog: Catalog; kept: number }> {
  const catalog = await readCatalog(client);
  const plan = planMasking(catalog, rules);
  if (plan.problems.length > 0) throw rulesError(plan.problems);
  const notControl = (schema: string, table: string) => schema === 'public' && table === CONTROL_TABLE;
  const uncovered = uncoveredColumns(catalog, plan, keep, notControl);
  if (uncovered.length > 0) throw coverageError(uncovered);
  const all = uncoveredColumns(catalog, plan, [], notControl).length;
  return { plan, catalog, kept: all };
}

/**
 * Decides how a copy is masked, and refuses it before a byte is copied when a rule cannot apply or
 * a column that can carry text is neither masked nor kept (fail closed). Planned from the
 * source's catalog; a source on another server is masked in the stream, so its originals never
 * reach this server's tables.
 */
export async function prepareMasking(request: MaskingRequest): Promise<MaskingJob> {
  const { rules, secret, log } = request;
  const keep = request.keep ?? [];
  const { plan, kept } = await withClient(request.source.conn, (client) => planCoveredMasking(client, rules, keep));
  const masker = new Masker(secret);
  const finish = (target: ConnInfo) => verifyCopy({ source: request.source.conn, target, plan, kept, masker, keepCatalog: request.keepCatalog ?? [], log });
  if (request.source.sameServer) {
    return {
      afterCopy: async (target) => {
        await withClient(target, async (client) => void (await maskInPlace(client, rules, secret, log)));
        return finish(target);
      },
    };
  }
  log?.(`Masking ${plan.tables.length} table(s) in the dump stream …`);
  const needsSql = plan.tables.some((t) => t.columns.some((c) => c.mask.kind === 'sql'));
  return {
    rewriteDump: () => maskingStream(plan, masker, needsSql ? sourceEvaluator(request.source.conn) : undefined),
    afterCopy: async (target) => {
      await withClient(target, (client) => recomputeDerived(client, plan, log));
      return finish(target);
    },
  };
}

/** Closes the side channels of a masked copy, then searches it for sampled originals; any found fails it. */
async function verifyCopy(args: {
  source: ConnInfo; target: ConnInfo; plan: MaskPlan; kept: number; masker: Masker; keepCatalog: readonly CatalogKeep[]; log?: (line: string) => void;
}): Promise<Verification> {
  const { plan, log } = args;
  return withClient(args.source, (source) => withClient(args.target, async (target) => {
    // The copy carries its source's settings (a statement_timeout for the application, say): not for these statements.
    for (const client of [source, target]) await client.query(`${timeoutStatements({ statement: 0, lock: 0, idleInTransaction: 0 })}; ${MASK_SESSION_SQL}`);
    const report = await closeSideChannels(target, args.target.database, { keep: args.keepCatalog, masker: args.masker, originals: originalsOn(source, plan), log });
    const needles = await sampleOriginals(source, plan);
    log?.(`Verifying: searching the copy for ${needles.sampled} sampled original values …`);
    const { hits, columns, texts } = await searchCopy(target, args.target.database, plan, await readCatalog(target), needles);
    if (hits.length > 0) throw verificationError(hits);
    const leaves = plan.tables.filter((t) => t.relkind !== 'p');
    return {
      masked_columns: leaves.reduce((n, t) => n + t.columns.filter((c) => c.mask.kind !== 'derived').length, 0),
      derived_columns: leaves.flatMap((t) => t.columns.flatMap((c) => (c.mask.kind === 'derived' ? [`${qualified(t)}.${c.column} (trigger ${c.mask.trigger})`] : []))),
      kept_columns: args.kept,
      values_sampled: needles.sampled,
      columns_searched: columns,
      catalog_texts_searched: texts,
      dropped: report.dropped,
      masked_literals: report.masked,
      hits: 0,
    };
  }));
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
