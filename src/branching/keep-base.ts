import { UsageError } from '../core/errors.js';
import type { SourceRef } from '../copy/source-ref.js';
import type { BranchContext } from './context.js';
import { createFromPausedSource } from './paused-copy.js';
import { MAX_NAME_LENGTH, validateBranchName } from './names.js';

/** The snapshot `branch create <name> --keep-base` keeps: the state the branch starts from, its merge base. */
export function baseSnapshotName(branch: string): string {
  validateBranchName(branch);
  const name = `${branch}-base`;
  if (name.length > MAX_NAME_LENGTH) {
    throw new UsageError(`branch name "${branch}" is too long for --keep-base (its base snapshot "${name}" would pass ${MAX_NAME_LENGTH} characters)`, {
      hint: `use a name of at most ${MAX_NAME_LENGTH - 5} characters, or take a snapshot yourself and branch from it`,
    });
  }
  return name;
}

/**
 * `--keep-base`: freezes the source as snapshot `<branch>-base` first; the branch is then made from
 * that snapshot, so its record names its base (`snapshot`) and `ayb branch merge` finds it. On a
 * copy-on-write server the snapshot costs no disk until the source changes.
 */
export async function createBaseSnapshot(ctx: BranchContext, branch: string, source: SourceRef, options: { readonly expiresAt?: Date | null; readonly signal?: AbortSignal } = {}): Promise<string> {
  const name = baseSnapshotName(branch);
  // Its source may have clients behind ayb start --pooler: paused there, as any create (paused-copy.ts).
  await createFromPausedSource(ctx, { name, kind: 'snapshot', source, expiresAt: options.expiresAt, signal: options.signal });
  return name;
}
