import { Args, Flags } from '@oclif/core';
import { createBaseSnapshot } from '../../branching/keep-base.js';
import { expiryFromFlags } from '../../branching/expiry.js';
import { parseSourceRef } from '../../copy/source-ref.js';
import { DatabaseCommand, copyFlags } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchCreate extends DatabaseCommand {
  static override summary = 'Create a branch: a full, isolated copy of a database';
  static override description = `Clones the source (main by default) into a new database ayb_branch_<name> on the main database's server and records it in the control table.

Strategies: "template" copies the database's files (CREATE DATABASE … TEMPLATE; fast, needs no other sessions on the source); "dump" streams pg_dump into psql (works with a busy source or another server); "auto" (default) picks the fastest that is safe right now.

On PostgreSQL 18+ a template copy clones the files copy-on-write (file_copy_method = clone) where the data directory's filesystem can (XFS with reflink, Btrfs, ZFS 2.2+, APFS): ayb checks that itself for its managed cluster; for other servers set [branching] file_copy_method = "clone".

A template copy needs the source to itself. "auto" never disconnects anyone: with other sessions on the source it dumps instead, and "--strategy template" fails (exit 4) listing them. --disconnect is the opt-in for local development: ayb refuses new connections to the source, ends its sessions, copies, and always allows connections again (also on failure or Ctrl-C).

While "ayb start --pooler" serves main on this machine, a create from main or a branch asks it to pause the source in its PgBouncer for the copy: clients connected through the pooler keep their connections (they wait), and the copy is a template copy instead of a dump. Clients connected straight to the server still make "auto" dump.

A dump shows its progress on a terminal (stderr); it is quiet when stderr is not a terminal and with --json.

--keep-base first freezes the source as snapshot <name>-base and makes the branch from it: the merge base that "ayb branch merge" compares against (free on copy-on-write servers, a full copy otherwise).

On any failure or Ctrl-C, nothing is left behind: the partial database is dropped and the branch is marked failed. If the server goes away meanwhile, ayb waits for it up to [branching] reconnect_timeout to do so; otherwise, and if ayb itself is killed, the next ayb command does it.

--from a snapshot (ayb snapshot create) is always a template copy: nobody is ever connected to a snapshot, so it never has to wait for or dump a busy source.

--ttl or --expires-at sets when the branch expires ([branching] default_ttl applies when neither is given; --never-expires opts out); an --expires-at in the past is refused (exit 2, most often a typo) unless --allow-past is given; "ayb branch prune" and "ayb start" delete expired branches. With --if-not-exists an existing ready branch is printed unchanged (exit 0), so a CI job can be re-run; if another ayb process is creating it right now, this waits for that and prints its result.`;

  static override examples = [
    { description: 'Branch the main database', command: '<%= config.bin %> branch create feature-auth' },
    { description: 'Branch a branch, forcing a dump', command: '<%= config.bin %> branch create review-42 --from feature-auth --strategy dump' },
    { description: 'Branch a snapshot (always a fast template copy, even while main is busy)', command: '<%= config.bin %> branch create ci-1 --from seeded' },
    { description: 'Idempotent create for CI, gone after two days, as JSON', command: '<%= config.bin %> branch create pr-123 --ttl 2d --if-not-exists --json' },
    { description: 'Keep the starting state, to merge the branch back later', command: '<%= config.bin %> branch create backfill --keep-base' },
    { description: 'Expire at a fixed time', command: '<%= config.bin %> branch create demo --expires-at 2030-01-31T18:00:00Z' },
    { description: 'Copy files even though a local app is connected (ends its sessions)', command: '<%= config.bin %> branch create scratch --strategy template --disconnect' },
    { description: 'Branch main as it was two hours ago (managed PostgreSQL with [history] enabled)', command: '<%= config.bin %> branch create before-drop --from main@-2h' },
    { description: 'Branch main as it was at a moment', command: '<%= config.bin %> branch create bug-1234 --from main@2026-11-30T14:00Z' },
    { description: 'Clone from another server (dump only; the password from PGPASSWORD or ~/.pgpass, not argv)', command: '<%= config.bin %> branch create staging-copy --from postgres://user@staging:5432/app' },
  ];

  static override args = {
    name: Args.string({ description: 'branch name: 1-52 of a-z 0-9 - _, starting and ending with a letter or digit', required: true }),
  };

  static override flags = {
    from: Flags.string({ description: 'source: main, a branch, a snapshot, a postgres:// URL, or main@<time> (ISO 8601 or a duration ago: main@-2h; needs [history])', default: 'main' }),
    ...copyFlags,
    'keep-base': Flags.boolean({ description: 'keep the starting state as snapshot <name>-base, the base of a later "ayb branch merge"' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchCreate);
    this.setOutput(flags);
    this.warnPasswordInArgv('--from', flags.from, 'PGPASSWORD');
    let source = parseSourceRef(flags.from);
    if (flags['keep-base']) {
      const ctx = await this.branchContext(flags);
      const expiresAt = expiryFromFlags({ ttl: flags.ttl, expiresAt: flags['expires-at'], never: flags['never-expires'], allowPast: flags['allow-past'] });
      const base = await this.interruptible((signal) => createBaseSnapshot(ctx, args.name, source, { expiresAt, signal }));
      this.writer.log(`Kept the base as snapshot "${base}"`);
      source = { kind: 'record', name: base };
    }
    await this.createCopy('branch', args.name, source, flags);
  }
}
