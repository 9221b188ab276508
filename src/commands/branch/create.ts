import { Args, Flags } from '@oclif/core';
import { expiryFromFlags } from '../../branching/expiry.js';
import { createBranch } from '../../branching/service.js';
import { branchDetailColumns, branchJson } from '../../output/branch-view.js';
import { formatBytes } from '../../output/writer.js';
import { AybCommand, outputFlag } from '../base.js';

export default class BranchCreate extends AybCommand {
  static override summary = 'Create a branch: a full, isolated copy of a database';
  static override description = `Clones the source (main by default) into a new database ayb_branch_<name> on the main database's server and records it in the control table.

Strategies: "template" copies the database's files (CREATE DATABASE … TEMPLATE; fast, needs no other sessions on the source); "dump" streams pg_dump into psql (works with a busy source or another server); "auto" (default) picks the fastest that is safe right now.

On any failure or Ctrl-C, nothing is left behind: the partial database is dropped and the branch is marked failed.

--ttl or --expires-at sets when the branch expires ([branching] default_ttl applies when neither is given; --never-expires opts out); "ayb branch prune" and "ayb start" delete expired branches. With --if-not-exists an existing ready branch is printed unchanged (exit 0), so a CI job can be re-run; if another ayb process is creating it right now, this waits for that and prints its result.`;

  static override examples = [
    { description: 'Branch the main database', command: '<%= config.bin %> branch create feature-auth' },
    { description: 'Branch a branch, forcing a dump', command: '<%= config.bin %> branch create review-42 --from feature-auth --strategy dump' },
    { description: 'Idempotent create for CI, gone after two days, as JSON', command: '<%= config.bin %> branch create pr-123 --ttl 2d --if-not-exists --json' },
    { description: 'Expire at a fixed time', command: '<%= config.bin %> branch create demo --expires-at 2030-01-31T18:00:00Z' },
    { description: 'Clone from another server (dump only)', command: 'AYB_SOURCE=postgres://user@staging:5432/app <%= config.bin %> branch create staging-copy --from "$AYB_SOURCE"' },
  ];

  static override args = {
    name: Args.string({ description: 'branch name: 1-52 of a-z 0-9 - _, starting and ending with a letter or digit', required: true }),
  };

  static override flags = {
    from: Flags.string({ description: 'source: main, a branch name, or a postgres:// URL', default: 'main' }),
    strategy: Flags.string({ description: 'how to copy', options: ['auto', 'template', 'dump'] }),
    'if-not-exists': Flags.boolean({ description: 'succeed and print the existing branch if it is already there and ready' }),
    ttl: Flags.string({ description: 'expire this long from now: 30m, 12h, 7d, 2w, 1d12h', exclusive: ['expires-at', 'never-expires'] }),
    'expires-at': Flags.string({ description: 'expire at this ISO 8601 time (e.g. 2030-01-31T18:00Z)', exclusive: ['ttl', 'never-expires'] }),
    'never-expires': Flags.boolean({ description: 'never expire, whatever [branching] default_ttl says', exclusive: ['ttl', 'expires-at'] }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchCreate);
    this.setOutput(flags);
    const expiresAt = expiryFromFlags({ ttl: flags.ttl, expiresAt: flags['expires-at'], never: flags['never-expires'] });
    const ctx = await this.branchContext(flags);
    const started = Date.now();
    const result = await this.interruptible((signal) =>
      createBranch(ctx, {
        name: args.name,
        from: flags.from,
        strategy: flags.strategy as 'auto' | 'template' | 'dump' | undefined,
        ifNotExists: flags['if-not-exists'],
        expiresAt,
        signal,
        onProgress: this.writer.interactive
          ? (p) => {
            const total = p.totalBytes ? ` of ~${formatBytes(p.totalBytes)}` : '';
            this.writer.progress(`\r\x1b[KCopying ${formatBytes(p.bytes)}${total}${p.table ? ` (${p.table})` : ''}`);
          }
          : undefined,
      }),
    );
    if (this.writer.interactive) this.writer.progress('\r\x1b[K');
    const { branch, created } = result;
    this.writer.log(
      created
        ? `Created branch "${branch.name}" (${branch.strategy}) in ${((Date.now() - started) / 1000).toFixed(1)}s`
        : `Branch "${branch.name}" already exists; left as it is`,
    );
    this.writer.record(branch, branchDetailColumns(), (b) => branchJson(b));
  }
}
