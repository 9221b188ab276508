import { withClient } from '../postgres/client.js';
import { initMasking, renderMaskInit } from '../masking/init.js';
import { type BranchContext, withControl } from './context.js';
import { resolveReadableSource } from './source.js';
import { MAIN_SOURCE, type SourceRef } from '../copy/source-ref.js';

/** `ayb mask init [--from <source>]`: a starting `[masking]` section for the source (main by default), as TOML. */
export async function maskInitText(ctx: BranchContext, from: SourceRef = MAIN_SOURCE): Promise<{ readonly text: string; readonly rules: number; readonly keep: number; readonly undecided: number; readonly source: string }> {
  const source = await withControl(ctx, (client) => resolveReadableSource(ctx, client, from, 'read that'));
  const label = source.parent ?? (source.label === ctx.main.database ? 'main' : source.label);
  const init = await withClient(source.conn, initMasking);
  return { text: renderMaskInit(init, label), rules: init.rules.length, keep: init.keep.length, undecided: init.undecided.length, source: label };
}
