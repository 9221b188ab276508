import { Args, Flags } from '@oclif/core';
import { formatDuration } from '../../core/duration.js';
import { expiryFromFlags, setBranchExpiry } from '../../branching/expiry.js';
import { UsageError } from '../../core/errors.js';
import { branchDetailColumns, branchJson } from '../../output/branch-view.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchExpire extends DatabaseCommand {
  static override summary = 'Set or clear when a branch expires';
  static override description = `An expired branch is deleted by "ayb branch prune" (and by "ayb start", which prunes periodically); until then it works as before. --ttl counts from now, not from when the branch was made. An expiry in the past marks the branch for the next prune.`;
  static override examples = [
    { description: 'Keep a branch for two more days', command: '<%= config.bin %> branch expire feature-auth --ttl 2d' },
    { description: 'Expire at a fixed time', command: '<%= config.bin %> branch expire demo --expires-at 2030-01-31T18:00:00Z' },
    { description: 'Keep a branch for good', command: '<%= config.bin %> branch expire feature-auth --never' },
  ];
  static override args = { name: Args.string({ description: 'branch name', required: true }) };
  static override flags = {
    ttl: Flags.string({ description: 'expire this long from now: 30m, 12h, 7d, 2w, 1d12h', exclusive: ['expires-at', 'never'] }),
    'expires-at': Flags.string({ description: 'expire at this ISO 8601 time (e.g. 2030-01-31T18:00Z)', exclusive: ['ttl', 'never'] }),
    never: Flags.boolean({ description: 'never expire', exclusive: ['ttl', 'expires-at'] }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchExpire);
    this.setOutput(flags);
    // Unlike create, a past time is taken as asked: expiring an existing branch now is what this command is for.
    const expiresAt = expiryFromFlags({ ttl: flags.ttl, expiresAt: flags['expires-at'], never: flags.never, allowPast: true });
    if (expiresAt === undefined) {
      throw new UsageError('say when the branch should expire', {
        hint: `give one of --ttl <duration>, --expires-at <time> or --never, e.g. ayb branch expire ${args.name} --ttl 7d`,
      });
    }
    const ctx = await this.branchContext(flags);
    const branch = await setBranchExpiry(ctx, args.name, expiresAt);
    this.writer.log(
      expiresAt === null
        ? `Branch "${branch.name}" never expires`
        : expiresAt.getTime() <= Date.now()
          ? `Branch "${branch.name}" has expired; the next prune deletes it`
          : `Branch "${branch.name}" expires at ${expiresAt.toISOString()} (in ${formatDuration(expiresAt.getTime() - Date.now())})`,
    );
    this.writer.record(branch, branchDetailColumns({ mainDatabase: ctx.main.database }), (b) => branchJson(b));
  }
}
