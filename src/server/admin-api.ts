import { z } from 'zod';
import { type BranchContext } from '../branching/context.js';
import { createBranch } from '../branching/create.js';
import { deleteBranch } from '../branching/delete.js';
import { getBranch, listBranches } from '../branching/list.js';
import { validateBranchName } from '../branching/names.js';
import { looksLikeUrl } from '../branching/source.js';
import { StrategySchema } from '../config/schema.js';
import { branchJson } from '../output/branch-view.js';
import { ConflictError } from '../core/errors.js';
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
const CreateBody = z
  .object({
    name: z.string(),
    from: z.string().min(1).optional(),
    strategy: StrategySchema.optional(),
  })
  .strict();

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

  router.add('GET', '/api/admin/branches', async () => {
    const branches = await listBranches(ctx);
    return json(200, { branches: branches.map((b) => branchJson(b)) });
  });

  router.add('GET', '/api/admin/branches/:name', async ({ params }) => json(200, branchJson(await getBranch(ctx, params.name!))));

  router.add('POST', '/api/admin/branches', async ({ req }) => {
    const body = parseBody(CreateBody, await readJson(req), '{"name": "feature-auth", "from": "main" (optional), "strategy": "auto" (optional)}');
    checkSource(body.from, deps.allowUrlSources);
    const { branch } = await createBranch(ctx, { name: body.name, from: body.from, strategy: body.strategy, signal: deps.signal });
    return json(201, branchJson(branch));
  });

  router.add('DELETE', '/api/admin/branches/:name', async ({ params, url }) => {
    const name = params.name!;
    validateBranchName(name);
    if (name === served.branch) {
      throw new ConflictError('branch_in_use', `branch "${name}" is the database this server serves`, {
        hint: 'stop ayb start (or start it on another branch) before deleting this branch',
      });
    }
    const result = await deleteBranch(ctx, {
      name,
      force: flag(url, 'force'),
      withChildren: flag(url, 'with_children'),
    });
    return json(200, { status: 'deleted', name, ...(result.deleted_children ? { deleted_children: result.deleted_children } : {}) });
  });

  router.add('GET', '/api/admin/database', async () => {
    const tables = await servedTables(served);
    return json(200, { database: served.database, branch: served.branch, tables });
  });
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
    throw new HttpError(403, 'url_source_not_allowed', '"from" may be "main" or a branch name; cloning from a URL is turned off on this server', {
      hint: 'set [branching] allow_url_sources = true in ayb.toml to allow it, or use ayb branch create --from <url> on the command line',
    });
  }
}
