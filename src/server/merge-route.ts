import { z } from 'zod';
import type { OpenedContext } from '../branching/context.js';
import { conflictId, mergeBranch, type Resolution } from '../branching/merge.js';
import { parseBody, readJson } from './body.js';
import type { Router } from './router.js';

const Values = z.record(z.string(), z.string().nullable());
const MergeBody = z
  .object({
    into: z.string().min(1).optional(),
    base: z.string().min(1).optional(),
    strategy: z.enum(['fail', 'ours', 'theirs']).optional(),
    dry_run: z.boolean().optional(),
    /** Conflicts as a dry run listed them, each with its `resolution` set: as `ayb branch merge --conflicts <file>`. */
    conflicts: z
      .array(z.object({ table: z.string(), key: Values, columns: z.array(z.string()), our: Values.nullable(), their: Values.nullable(), resolution: z.union([z.literal('ours'), z.literal('theirs'), Values]).nullable() }).passthrough())
      .optional(),
  })
  .strict();

/**
 * POST /api/admin/branches/<name>/merge: `ayb branch merge` for the dashboard. `{"dry_run": true}`
 * answers the plan (conflicts with base, ours and theirs values) and changes nothing; the same body
 * without it applies, with the conflicts sent back resolved. Unresolved conflicts answer 409.
 */
export function addMergeRoute(router: Router, ctx: OpenedContext): void {
  router.add('POST', '/api/admin/branches/:name/merge', async ({ req, params }) => {
    const body = parseBody(MergeBody, await readJson(req), '{"dry_run": true} | {"into": "main", "strategy": "fail" | "ours" | "theirs", "conflicts": [… each with "resolution": "ours" | "theirs" | {column: value}]} (all optional)');
    const resolutions = new Map<string, Resolution>();
    for (const c of body.conflicts ?? []) if (c.resolution !== null) resolutions.set(conflictId(c), c.resolution);
    const result = await mergeBranch(ctx, {
      branch: params.name!,
      into: body.into,
      base: body.base,
      strategy: body.strategy,
      dryRun: body.dry_run === true,
      resolutions,
    });
    return { status: 200, json: result };
  });
}
