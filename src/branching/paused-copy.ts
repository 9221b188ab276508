import { type PauseRunner, servingPooler } from '../pooler/pause-socket.js';
import { type BranchContext, noticeOf } from './context.js';
import { createBranch, type CreateOptions, type CreateResult } from './create.js';
import { resolveDatabase } from './list.js';

/**
 * A create whose source may have clients connected through the pooler of `ayb start --pooler`: the
 * source (main or a ready branch) is paused there for the copy, so their idle sessions do not turn
 * a template copy into a dump, and they keep their connections. The admin API passes its own pooler
 * (`pauser`); the CLI and the library find the server's through its socket (pooler/pause-socket.ts),
 * and without a server (the common case) this is `createBranch` and one `existsSync`.
 *
 * Not paused: a snapshot (nobody is connected to one), a URL or `main@<time>` (not on the pooler's
 * server), `--strategy dump` (needs no idle source) and `--disconnect` (ends the sessions anyway).
 */
export async function createFromPausedSource(ctx: BranchContext, options: CreateOptions, pauser?: PauseRunner): Promise<CreateResult> {
  const source = options.source ?? { kind: 'main' as const };
  if (options.disconnect || options.strategy === 'dump' || (source.kind !== 'main' && source.kind !== 'record')) return createBranch(ctx, options);
  const pause = pauser ?? servingPooler(ctx.main, noticeOf(ctx));
  if (!pause) return createBranch(ctx, options);
  const database = source.kind === 'main'
    ? ctx.main.database
    // A snapshot, a branch not ready, a name that does not resolve: the create says what is wrong.
    : await resolveDatabase(ctx, source.name).then(({ database }) => database, () => undefined);
  return database ? pause(database, () => createBranch(ctx, options)) : createBranch(ctx, options);
}
