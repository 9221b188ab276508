import { ConflictError } from '../core/errors.js';
import { withClient } from '../postgres/client.js';
import { checkMasking, type MaskCheck } from '../masking/check.js';
import { type BranchContext, withControl } from './context.js';
import { resolveSource } from './source.js';

/**
 * `ayb mask check [--from <source>]`: the personal-looking columns of the source (main by default, a
 * branch, or a URL) that the rules leave unmasked, and the rules that name nothing there.
 */
export async function checkMaskingRules(ctx: BranchContext, from?: string): Promise<MaskCheck & { readonly source: string }> {
  const source = await withControl(ctx, (client) => resolveSource(ctx, client, from));
  if (source.snapshot !== null) {
    throw new ConflictError('snapshot_refuses_connections', `"${source.snapshot}" is a snapshot, and nobody connects to a snapshot`, {
      hint: 'check the database it was taken of, or a branch made from it',
    });
  }
  const result = await withClient(source.conn, (client) => checkMasking(client, ctx.config.masking.rules, [...ctx.config.masking.keep, ...ctx.config.masking.ignore]));
  return { ...result, source: source.parent ?? (source.label === ctx.main.database ? 'main' : source.label) };
}
