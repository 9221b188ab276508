import { z } from 'zod';
import { branchConn, branchUrl, type OpenedContext } from '../branching/context.js';
import type { Pooler } from '../pooler/pgbouncer.js';
import { createBranch, type CreateOptions, type CreateResult } from '../branching/create.js';
import { parseSourceRef, type SourceRef } from '../copy/source-ref.js';
import { diffBranchDataWithParent } from '../branching/data-diff.js';
import { deleteBranch } from '../branching/delete.js';
import { diffBranches } from '../branching/diff.js';
import { expiryFromFlags, setBranchExpiry } from '../branching/expiry.js';
import { getBranch, listBranches } from '../branching/list.js';
import { createFromPausedSource } from '../branching/paused-copy.js';
import { validateBranchName } from '../branching/names.js';
import { resetBranch } from '../branching/reset.js';
import { historyStatus } from '../branching/point-in-time.js';
import { StrategySchema } from '../config/schema.js';
import type { Branch, RecordKind } from '../core/records.js';
import { branchJson, deleteJson } from '../output/branch-view.js';
import { AybError, ConflictError } from '../core/errors.js';
import { tableChange } from '../datadiff/data-diff.js';
import { renderChangesText } from '../schema/render.js';
import { renderMigration } from '../schema/sql.js';
import type { AdminAuth } from './auth.js';
import { parseBody, readJson } from './body.js';
import { HttpError } from './http-error.js';
import { addMergeRoute } from './merge-route.js';
import type { Reply, Router } from './router.js';
import { type ServedDatabase, servedTables } from '../branching/serving.js';

export interface AdminApiDeps {
  /** The main database's context: the admin API always manages main's branches, whatever is served. */
  readonly ctx: OpenedContext;
  readonly auth: AdminAuth;
  readonly served: ServedDatabase;
  /** `[branching] allow_url_sources`: whether `from` may be a connection URL. */
  readonly allowUrlSources: boolean;
  /** Aborted when the server shuts down, so a long create stops and cleans up. */
  readonly signal: AbortSignal;
  /** `ayb start --pooler`: branch URLs go through it; a create pauses its source there for the copy. */
  readonly pooler?: Pooler;
}

const LoginBody = z.object({ password: z.string() }).strict();
/** When a new branch or snapshot expires, as the CLI's --ttl / --expires-at / --never-expires. */
const expiryFields = {
  ttl: z.string().min(1).optional(),
  expires_at: z.string().min(1).optional(),
  never: z.boolean().optional(),
  /** As the CLI's --allow-past: a past `expires_at` is refused (400) without it. */
  allow_past: z.boolean().optional(),
};
/** As the CLI's --masked: apply the masking rules (always on with `[masking] required`). */
const maskedField = { masked: z.boolean().optional() };
const CreateBody = z
  .object({
    name: z.string(),
    from: z.string().min(1).optional(),
    strategy: StrategySchema.optional(),
    ...maskedField,
    ...expiryFields,
  })
  .strict();
const SnapshotBody = z
  .object({
    name: z.string(),
    of: z.string().min(1).optional(),
    ...maskedField,
    ...expiryFields,
  })
  .strict();
const ResetBody = z.object({ to: z.string().min(1).optional(), strategy: StrategySchema.optional() }).strict();
const ExpireBody = z.object(expiryFields).strict();

function json(status: number, body: unknown): Reply {
  return { status, json: body };
}

/** Routes of the admin API. Authentication of `/api/admin/*` happens in the server, before routing. */
export function addAdminRoutes(router: Router, deps: AdminApiDeps): void {
  const { ctx, auth, served, pooler } = deps;
  /** A branch's URL, through the pooler when there is one. */
  const urlOf = (database: string, showPassword = false) =>
    pooler ? pooler.url(branchConn(ctx, database), showPassword) : branchUrl(ctx, database, showPassword);

  router.add('POST', '/api/admin/auth', async ({ req }) => {
    const body = parseBody(LoginBody, await readJson(req), '{"password": "…"}');
    const issued = auth.login(body.password, req.socket.remoteAddress ?? 'unknown');
    return json(200, { token: issued.token, expires_at: issued.expiresAt.toISOString() });
  });

  /** A record as the API returns it; a ready branch also has its connection URL, password masked. */
  const record = (b: Branch) => branchJson(b, b.kind === 'branch' && b.status === 'ready' && !b.problem ? { url: urlOf(b.branch_database) } : {});

  // Sizes only with ?sizes=true (as `branch list --sizes`): sizing every database scans its files.
  router.add('GET', '/api/admin/branches', async ({ url }) => {
    const branches = await listBranches(ctx, 'branch', { sizes: flag(url, 'sizes') });
    return json(200, { branches: branches.map(record), main_database: ctx.main.database });
  });

  router.add('GET', '/api/admin/branches/:name', async ({ params }) => json(200, record(await getBranch(ctx, params.name!))));

  // The full URL, password included, for the dashboard's copy button (as `ayb branch url`); only on request.
  router.add('GET', '/api/admin/branches/:name/url', async ({ params }) => {
    const branch = await getBranch(ctx, params.name!);
    if (branch.status !== 'ready') {
      throw new ConflictError('branch_not_ready', `branch "${branch.name}" is not ready (status: ${branch.status})`);
    }
    return json(200, { name: branch.name, url: urlOf(branch.branch_database, true) });
  });

  router.add('POST', '/api/admin/branches', async ({ req }) => {
    const body = parseBody(CreateBody, await readJson(req), '{"name": "feature-auth", "from": "main" | "<branch>" | "<snapshot>" | "main@-2h" (optional), "strategy": "auto" (optional), "masked": true (optional), "ttl": "2d" | "expires_at": "…" | "never": true (optional)}');
    const { branch } = await copy({ kind: 'branch', name: body.name, source: sourceOf(body.from), strategy: body.strategy, masked: body.masked, expiresAt: expiryFromBody(body) });
    return json(201, record(branch));
  });

  router.add('DELETE', '/api/admin/branches/:name', async ({ params, url }) => deleteRoute('branch', params.name!, url));

  router.add('POST', '/api/admin/branches/:name/reset', async ({ req, params }) => {
    const name = params.name!;
    const body = parseBody(ResetBody, await readJson(req), '{} or {"to": "<snapshot>", "strategy": "auto" (optional)}');
    refuseServed(name, 'reset');
    const result = await resetBranch(ctx, { name, to: body.to, strategy: body.strategy, signal: deps.signal });
    return json(200, record(result.branch));
  });

  router.add('POST', '/api/admin/branches/:name/expire', async ({ req, params }) => {
    const body = parseBody(ExpireBody, await readJson(req), '{"ttl": "7d"} or {"expires_at": "2030-01-31T18:00Z"} or {"never": true}');
    const expiresAt = expiryFromBody(body, true);
    if (expiresAt === undefined) {
      throw new HttpError(400, 'invalid_body', 'say when the branch should expire', { hint: 'send one of {"ttl": "7d"}, {"expires_at": "…"} or {"never": true}' });
    }
    return json(200, record(await setBranchExpiry(ctx, params.name!, expiresAt)));
  });

  // The schema diff of `ayb branch diff <from> <to>`: the changes, the text view and the migration.
  router.add('GET', '/api/admin/diff', async ({ url }) => {
    const to = url.searchParams.get('to');
    const from = url.searchParams.get('from') ?? 'main';
    if (!to) throw new HttpError(400, 'invalid_query', 'the query needs "to" (and optionally "from", default main)', { hint: '/api/admin/diff?from=main&to=feature-auth' });
    const { comparison } = await diffBranches(ctx, from, to);
    return json(200, {
      from,
      to,
      changes: comparison.changes,
      text: renderChangesText(comparison.changes, { from, to }),
      sql: renderMigration(comparison.migration(), `ayb branch diff ${from} ${to}: migration from ${from} to ${to}`),
    });
  });

  router.add('GET', '/api/admin/snapshots', async ({ url }) => {
    const snapshots = await listBranches(ctx, 'snapshot', { sizes: flag(url, 'sizes') });
    return json(200, { snapshots: snapshots.map(record) });
  });

  router.add('POST', '/api/admin/snapshots', async ({ req }) => {
    const body = parseBody(SnapshotBody, await readJson(req), '{"name": "before-migration", "of": "main" | "<branch>" | "main@-2h" (optional), "masked": true (optional), "ttl": "1d" (optional)}');
    const { branch } = await copy({ kind: 'snapshot', name: body.name, source: sourceOf(body.of), masked: body.masked, expiresAt: expiryFromBody(body) });
    return json(201, record(branch));
  });

  router.add('DELETE', '/api/admin/snapshots/:name', async ({ params, url }) => deleteRoute('snapshot', params.name!, url));

  /**
   * A new branch or snapshot, as `ayb branch create` / `ayb snapshot create`: `main@<time>` through a
   * temporary cluster restored to that moment, one at a time (see pointInTimeTurn).
   */
  async function copy(options: Omit<CreateOptions, 'signal'> & { readonly source: SourceRef }): Promise<CreateResult> {
    const request = { ...options, signal: deps.signal };
    // From main or a branch: paused in the pooler for the copy, when there is one (branching/paused-copy.ts).
    if (options.source.kind !== 'point-in-time') return createFromPausedSource(ctx, request, pooler ? (database, fn) => pooler.paused(database, fn) : undefined);
    return pointInTimeTurn(() => createBranch(ctx, request), deps.signal, ctx.log);
  }

  /**
   * `from` / `of`, parsed: `main`, a branch or a snapshot; a connection URL only where the config
   * allows it, since a URL makes the server connect wherever the caller says.
   */
  function sourceOf(text: string | undefined): SourceRef {
    return parseSourceRef(text, { onUrl: () => {
      if (deps.allowUrlSources) return;
      throw new HttpError(403, 'url_source_not_allowed', '"from" may be "main", a branch or a snapshot; cloning from a URL is turned off on this server', {
        hint: 'set [branching] allow_url_sources = true in ayb.toml to allow it, or use ayb branch create --from <url> on the command line',
      });
    } });
  }

  async function deleteRoute(kind: RecordKind, name: string, url: URL): Promise<Reply> {
    validateBranchName(name);
    refuseServed(name, 'delete');
    const result = await deleteBranch(ctx, {
      name,
      kind,
      force: flag(url, 'force'),
      withChildren: flag(url, 'with_children'),
    }).catch((error: unknown) => {
      // The domain's hint names the CLI command; a client of the API asks with ?with_children=true.
      if (error instanceof ConflictError && error.code === 'branch_has_children') {
        throw new ConflictError(error.code, error.message, {
          hint: `delete those first, or all of them with: DELETE /api/admin/${kind}s/${name}?with_children=true (ayb ${kind} delete ${name} --with-children --yes)`,
          details: error.details,
        });
      }
      throw error;
    });
    const { deleted_children, deleted_merge_record, kept_merge_record } = deleteJson(result);
    return json(200, { status: 'deleted', name, ...(deleted_children ? { deleted_children } : {}), ...(deleted_merge_record ? { deleted_merge_record } : {}), ...(kept_merge_record ? { kept_merge_record } : {}) });
  }

  function refuseServed(name: string, what: 'delete' | 'reset'): void {
    if (name !== served.branch) return;
    throw new ConflictError('branch_in_use', `branch "${name}" is the database this server serves`, {
      hint: `stop ayb start (or start it on another branch) before you ${what} this branch`,
    });
  }

  // A branch's rows against its parent's, table by table (`ayb branch diff <parent> <name> --data`).
  // It reads every table of both, so the dashboard asks for it on demand only.
  router.add('GET', '/api/admin/branches/:name/data-diff', async ({ params, url }) => {
    const limit = exampleLimit(url);
    const result = await diffBranchDataWithParent(ctx, params.name!);
    return json(200, {
      from: result.parent,
      to: result.branch,
      tables: result.comparison.tables.map((t) => tableChange(t, limit)),
      only_in_from: result.comparison.onlyInA,
      only_in_to: result.comparison.onlyInB,
    });
  });

  // `ayb history --json`: the window, base backups, disk, and whether archiving works (with the fix when not).
  router.add('GET', '/api/admin/history', async () => json(200, await historyStatus(ctx)));

  addMergeRoute(router, ctx);

  router.add('GET', '/api/admin/database', async () => {
    const tables = await servedTables(served);
    return json(200, { database: served.database, branch: served.branch, tables });
  });
}

/** The expiry a body asks for (`ttl`, `expires_at` or `never`), as the CLI's flags; undefined when none. */
function expiryFromBody(body: { ttl?: string; expires_at?: string; never?: boolean; allow_past?: boolean }, allowPast = body.allow_past): Date | null | undefined {
  try {
    return expiryFromFlags({ ttl: body.ttl, expiresAt: body.expires_at, never: body.never, allowPast });
  } catch (error) {
    if (error instanceof AybError && error.code === 'expiry_in_past') {
      throw new HttpError(400, 'expiry_in_past', `"expires_at" ${JSON.stringify(body.expires_at)} is in the past: the copy would be expired at once`, {
        hint: 'send a future time or a "ttl", or add "allow_past": true if an expired copy is what you want',
      });
    }
    throw error;
  }
}

/** A boolean query parameter, as the CLI's flag of the same name: `?force=true`. */
function flag(url: URL, name: string): boolean {
  return url.searchParams.get(name) === 'true';
}

/** `?limit=<n>`: example keys per kind and table, as the CLI's --limit; none unless asked. */
function exampleLimit(url: URL): number | undefined {
  const text = url.searchParams.get('limit');
  if (text === null) return undefined;
  if (!/^\d{1,4}$/.test(text)) {
    throw new HttpError(400, 'invalid_query', `"limit" must be a whole number from 0 to 9999, not "${text}"`, { hint: '/api/admin/branches/feature-auth/data-diff?limit=5' });
  }
  return Number(text);
}

/**
 * A restore of `main@<time>` copies a whole base backup into a temporary cluster and replays WAL into
 * it, which takes a core and the disk of a second main; the server runs them one after another rather
 * than let a few clicks start several at once.
 */
let pointInTimeQueue: Promise<void> = Promise.resolve();
let pointInTimeRequests = 0;

async function pointInTimeTurn<T>(fn: () => Promise<T>, signal: AbortSignal, log?: (line: string) => void): Promise<T> {
  const previous = pointInTimeQueue;
  let release = (): void => undefined;
  pointInTimeQueue = new Promise<void>((resolve) => {
    release = resolve;
  });
  if (pointInTimeRequests++ > 0) log?.('Waiting for another point-in-time copy to finish …');
  // Removed once the wait is over: the signal lives as long as the server.
  let onAbort = (): void => undefined;
  try {
    await Promise.race([previous, new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    })]);
    return await fn();
  } finally {
    signal.removeEventListener('abort', onAbort);
    pointInTimeRequests--;
    // Never before the previous one is done, even when this one was stopped while it waited.
    void previous.then(release);
  }
}
