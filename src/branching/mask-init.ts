import { ConflictError } from '../core/errors.js';
import { withClient } from '../postgres/client.js';
import { initMasking, renderMaskInit } from '../masking/init.js';
import { type BranchContext, withControl } from './context.js';
import { resolveSource } from './source.js';

/** `ayb mask init [--from <source>]`: a starting `[masking]` section for the source (main by default), as TOML. */
export async function maskInitText(ctx: BranchContext, from?: string): Promise<{ readonly text: string; readonly rules: number; readonly keep: number; readonly undecided: number; readonly source: string }> {
  const source = await withControl(ctx, (client) => resolveSource(ctx, client, from));
  if (source.snapshot !== null) {
    throw new ConflictError('snapshot_refuses_connections', `"${source.snapshot}" is a snapshot, and nobody connects to a snapshot`, {
      hint: 'read the database it was taken of, or a branch made from it',
    });
  }
  const label = source.parent ?? (source.label === ctx.main.database ? 'main' : source.label);
  const init = await withClient(source.conn, initMasking);
  return { text: renderMaskInit(init, label), rules: init.rules.length, keep: init.keep.length, undecided: init.undecided.length, source: label };
}
