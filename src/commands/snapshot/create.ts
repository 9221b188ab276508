import { Args, Flags } from '@oclif/core';
import { parseSourceRef } from '../../copy/source-ref.js';
import { DatabaseCommand, copyFlags } from '../base.js';
import { outputFlag } from '../command.js';

export default class SnapshotCreate extends DatabaseCommand {
  static override summary = 'Freeze a copy of main or a branch, to branch from and reset to';
  static override description = `Copies the source (main by default) into a database ayb_snap_<name> that nobody can connect to (ALLOW_CONNECTIONS false), and records it. A snapshot never changes: branch from it with "ayb branch create <name> --from <snapshot>", and bring a branch back to it with "ayb branch reset <branch> --to <snapshot>". Both are always fast template copies, even while main is busy, because nobody is ever connected to a snapshot.

Branches and snapshots share one namespace of names. Strategies, --disconnect, expiry and --if-not-exists work as for "ayb branch create"; a snapshot of main never contains the control table.`;
  static override examples = [
    { description: 'Checkpoint main before a risky migration', command: '<%= config.bin %> snapshot create before-migration' },
    { description: 'Freeze main as it was yesterday at 14:00 UTC (managed PostgreSQL with [history] enabled)', command: '<%= config.bin %> snapshot create before-incident --of main@2026-11-30T14:00Z' },
    { description: 'Freeze a branch', command: '<%= config.bin %> snapshot create seeded --of ci-seed' },
    { description: 'Idempotent in CI, gone after a week', command: '<%= config.bin %> snapshot create nightly --ttl 7d --if-not-exists --json' },
  ];
  static override args = {
    name: Args.string({ description: 'snapshot name: 1-52 of a-z 0-9 - _, starting and ending with a letter or digit', required: true }),
  };
  static override flags = {
    of: Flags.string({ description: 'what to freeze: main, a branch, another snapshot, or main@<time> (needs [history])', default: 'main' }),
    ...copyFlags,
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotCreate);
    this.setOutput(flags);
    this.warnPasswordInArgv('--of', flags.of, 'PGPASSWORD');
    await this.createCopy('snapshot', args.name, parseSourceRef(flags.of), flags);
  }
}
