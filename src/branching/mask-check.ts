import { withClient } from '../postgres/client.js';
import { checkMasking, type MaskCheck } from '../masking/check.js';
import { type BranchContext, withControl } from './context.js';
import { resolveReadableSource } from './source.js';
import { MAIN_SOURCE, type SourceRef } from '../copy/source-ref.js';

/**
 * `ayb mask check [--from <source>]`: the personal-looking columns of the source (main by default, a
 * branch, or a URL) that the rules leave unmasked, and the rules that name nothing there.
 */
export async function checkMaskingRules(ctx: BranchContext, from: SourceRef = MAIN_SOURCE): Promise<MaskCheck & { readonly source: string }> {
  const source = await withControl(ctx, (client) => resolveReadableSource(ctx, client, from, 'check that'));
  const result = await withClient(source.conn, (client) => checkMasking(client, ctx.config.masking.rules, [...ctx.config.masking.keep, ...ctx.config.masking.ignore]));
  return { ...result, source: source.parent ?? (source.label === ctx.main.database ? 'main' : source.label) };
}
