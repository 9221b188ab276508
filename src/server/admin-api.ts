import { z } from 'zod';
import { type BranchContext, branchUrl } from '../branching/context.js';
import { createBranch } from '../branching/create.js';
import { deleteBranch } from '../branching/delete.js';
import { diffBranches } from '../branching/diff.js';
import { expiryFromFlags, setBranchExpiry } from '../branching/expiry.js';
import { getBranch, listBranches } from '../branching/list.js';
import { validateBranchName } from '../branching/names.js';
import { resetBranch } from '../branching/reset.js';
import { looksLikeUrl } from '../branching/source.js';
import { StrategySchema } from '../config/schema.js';
import type { Branch, RecordKind } from '../core/records.js';
import { branchJson } from '../output/branch-view.js';
import { ConflictError } from '../core/errors.js';
import { renderChangesText } from '../schema/render.js';
import { renderMigration } from '../schema/sql.js';
import type { AdminAuth } from './auth.js';
import { parseBody, readJson } from './body.js';
import { HttpError } from './http-error.js';
import type { Reply, Router } from './router.js';
import { type ServedDatabase, servedTables } from '../branching/serving.js';

export interface AdminApiDeps {
  /** The main database's context: the admin API always manages main's branches, whatever is served. */
  readonly ctx: BranchContext;
  readonly auth: AdminAuth;
  readonly served: ServedDatabase;
  /** `[branching] allow_url_sources`: whether `from` may be a connection URL. */
  readonly allowUrlSources: boolean;
  /** Aborted when the server shuts down, so a long create stops and cleans up. */
  readonly signal: AbortSignal;
}

const LoginBody = z.object({ password: z.string() }).strict();
/** When a new branch or snapshot expires, as the CLI's --ttl / --expires-at / --never-expires. */
const expiryFields = {
  ttl: z.string().min(1).optional(),
  expires_at: z.string().min(1).optional(),
  never: z.boolean().optional(),
};
const CreateBody = z
  .object({
    name: z.string(),
    from: z.string().min(1).optional(),
    strategy: StrategySchema.optional(),
    ...expiryFields,
  })
  .strict();
const SnapshotBody = z
  .object({
    name: z.string(),
    of: z.string().min(1).optional(),
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
  const { ctx, auth, served } = deps;

  router.add('POST', '/api/admin/auth', async ({ req }) => {
    const body = parseBody(LoginBody, await readJson(req), '{"password": "…"}');
    const issued = auth.login(body.password, req.socket.remoteAddress ?? 'unknown');
    return json(200, { token: issued.token, expires_at: issued.expiresAt.toISOString() });
  });

  /** A record as the API returns it; a ready branch also has its connection URL, password masked. */
  const record = (b: Branch) => branchJson(b, b.kind === 'branch' && b.status === 'ready' && !b.problem ? { url: branchUrl(ctx, b.branch_database) } : {});

  router.add('GET', '/api/admin/branches', async () => {
    const branches = await listBranches(ctx);
    return json(200, { branches: branches.map(record), main_database: ctx.main.database });
  });

  router.add('GET', '/api/admin/branches/:name', async ({ params }) => json(200, record(await getBranch(ctx, params.name!))));

  // The full URL, password included, for the dashboard's copy button (as `ayb branch url`); only on request.
  router.add('GET', '/api/admin/branches/:name/url', async ({ params }) => {
    const branch = await getBranch(ctx, params.name!);
    if (branch.status !== 'ready') {
      throw new ConflictError('branch_not_ready', `branch "${branch.name}" is not ready (status: ${branch.status})`);
    }
    return json(200, { name: branch.name, url: branchUrl(ctx, branch.branch_database, true) });
  });

  router.add('POST', '/api/admin/branches', async ({ req }) => {
    const body = parseBody(CreateBody, await readJson(req), '{"name": "feature-auth", "from": "main" | "<branch>" | "<snapshot>" (optional), "strategy": "auto" (optional), "ttl": "2d" | "expires_at": "…" | "never": true (optional)}');
    checkSource(body.from, deps.allowUrlSources);
    const expiresAt = expiryFromBody(body);
    const { branch } = await createBranch(ctx, { name: body.name, from: body.from, strategy: body.strategy, expiresAt, signal: deps.signal });
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
    const expiresAt = expiryFromBody(body);
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

  router.add('GET', '/api/admin/snapshots', async () => {
    const snapshots = await listBranches(ctx, 'snapshot');
    return json(200, { snapshots: snapshots.map(record) });
  });

  router.add('POST', '/api/admin/snapshots', async ({ req }) => {
    const body = parseBody(SnapshotBody, await readJson(req), '{"name": "before-migration", "of": "main" | "<branch>" (optional), "ttl": "1d" (optional)}');
    checkSource(body.of, deps.allowUrlSources);
    const expiresAt = expiryFromBody(body);
    const { branch } = await createBranch(ctx, { name: body.name, kind: 'snapshot', from: body.of, expiresAt, signal: deps.signal });
    return json(201, record(branch));
  });

  router.add('DELETE', '/api/admin/snapshots/:name', async ({ params, url }) => deleteRoute('snapshot', params.name!, url));

  async function deleteRoute(kind: RecordKind, name: string, url: URL): Promise<Reply> {
    validateBranchName(name);
    refuseServed(name, 'delete');
    const result = await deleteBranch(ctx, {
      name,
      kind,
      force: flag(url, 'force'),
      withChildren: flag(url, 'with_children'),
    });
    return json(200, { status: 'deleted', name, ...(result.deleted_children ? { deleted_children: result.deleted_children } : {}) });
  }

  function refuseServed(name: string, what: 'delete' | 'reset'): void {
    if (name !== served.branch) return;
    throw new ConflictError('branch_in_use', `branch "${name}" is the database this server serves`, {
      hint: `stop ayb start (or start it on another branch) before you ${what} this branch`,
    });
  }

  router.add('GET', '/api/admin/database', async () => {
    const tables = await servedTables(served);
    return json(200, { database: served.database, branch: served.branch, tables });
  });
}

/** The expiry a body asks for (`ttl`, `expires_at` or `never`), as the CLI's flags; undefined when none. */
function expiryFromBody(body: { ttl?: string; expires_at?: string; never?: boolean }): Date | null | undefined {
  return expiryFromFlags({ ttl: body.ttl, expiresAt: body.expires_at, never: body.never });
}

/** A boolean query parameter, as the CLI's flag of the same name: `?force=true`. */
function flag(url: URL, name: string): boolean {
  return url.searchParams.get(name) === 'true';
}

/**
 * `from` is `main` or a branch name; a connection URL only where the config allows it, since a URL
 * makes the server connect wherever the caller says.
 */
function checkSource(from: string | undefined, allowUrlSources: boolean): void {
  if (from === undefined || from === 'main' || allowUrlSources) return;
  if (looksLikeUrl(from)) {
    throw new HttpError(403, 'url_source_not_allowed', '"from" may be "main", a branch or a snapshot; cloning from a URL is turned off on this server', {
      hint: 'set [branching] allow_url_sources = true in ayb.toml to allow it, or use ayb branch create --from <url> on the command line',
    });
  }
}
