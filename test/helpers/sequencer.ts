import { statSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Seconds each file took in the last clean-clone run of the whole suite (3 workers on 2 cores, the run
 * folder in memory: test-runs.ts runFolderParent), every file of the integration project; only their
 * order matters. From the run of 2026-12-08 on af5bc49 (/tmp/ci/run.log: 150 files, vitest 470 s,
 * nothing else running). Refresh from a run's output (`✓ integration test/… Nms`) when a file grows or
 * shrinks a lot; a file missing here is estimated (see estimate below).
 */
export const MEASURED_SECONDS: Readonly<Record<string, number>> = {
  'test/integration/recovery.test.ts': 51,
  'test/integration/data-diff-outsider4.test.ts': 46,
  'test/integration/history-gaps.test.ts': 42,
  'test/integration/merge-outsider4.test.ts': 39,
  'test/integration/masking-init.test.ts': 36,
  'test/integration/masking-attack.test.ts': 35,
  'test/integration/copy-access-attack.test.ts': 34,
  'test/integration/data-diff-outsider.test.ts': 32,
  'test/integration/reset.test.ts': 30,
  'test/integration/merge-attack.test.ts': 29,
  'test/integration/errors.test.ts': 27,
  'test/integration/history.test.ts': 25,
  'test/integration/merge-exact.test.ts': 25,
  'test/integration/data-diff-exact.test.ts': 24,
  'test/integration/data-diff.test.ts': 22,
  'test/integration/data-diff-attack.test.ts': 21,
  'test/integration/expiry.test.ts': 21,
  'test/integration/merge-outsider.test.ts': 21,
  'test/integration/recovery-races.test.ts': 21,
  'test/integration/merge-outsider2.test.ts': 20,
  'test/integration/merge-outsider5.test.ts': 19,
  'test/integration/snapshots.test.ts': 19,
  'test/integration/strategy.test.ts': 19,
  'test/integration/masking.test.ts': 18,
  'test/integration/merge-outsider3.test.ts': 18,
  'test/integration/merge-set-based.test.ts': 18,
  'test/integration/diff-roundtrip.test.ts': 17,
  'test/integration/disconnect-guard.test.ts': 17,
  'test/integration/start.test.ts': 17,
  'test/integration/diff-cli.test.ts': 16,
  'test/integration/history-carries.test.ts': 16,
  'test/integration/interrupts.test.ts': 16,
  'test/e2e/dashboard.test.ts': 15,
  'test/integration/diff-attack.test.ts': 15,
  'test/integration/stuck-locks.test.ts': 15,
  'test/integration/first-hour-2.test.ts': 14,
  'test/integration/data-diff-identity.test.ts': 13,
  'test/integration/data-diff-outsider2.test.ts': 13,
  'test/integration/diff-from-empty.test.ts': 13,
  'test/integration/history-access.test.ts': 13,
  'test/integration/first-hour.test.ts': 11,
  'test/integration/branch-tree.test.ts': 10,
  'test/integration/clone-fidelity.test.ts': 10,
  'test/integration/create-failures.test.ts': 10,
  'test/integration/data-diff-outsider3.test.ts': 10,
  'test/integration/data-diff-outsider5.test.ts': 10,
  'test/integration/diff-pagila.test.ts': 10,
  'test/integration/merge-refactions.test.ts': 10,
  'test/integration/rename.test.ts': 10,
  'test/integration/concurrency.test.ts': 9,
  'test/integration/from-credentials.test.ts': 9,
  'test/integration/history-full-disk.test.ts': 9,
  'test/integration/secrets.test.ts': 9,
  'test/integration/server-history.test.ts': 9,
  'test/e2e/dashboard-history.test.ts': 8,
  'test/integration/agent-pool.test.ts': 8,
  'test/integration/help.test.ts': 8,
  'test/integration/masking-required.test.ts': 8,
  'test/integration/mcp.test.ts': 8,
  'test/integration/merge-fallback-keys.test.ts': 8,
  'test/integration/merge-schema-values.test.ts': 8,
  'test/integration/merge.test.ts': 8,
  'test/integration/server-copies.test.ts': 8,
  'test/integration/server.test.ts': 8,
  'test/integration/clone-pg18.test.ts': 7,
  'test/integration/delete.test.ts': 7,
  'test/integration/diff-corpus.test.ts': 7,
  'test/integration/merge-server.test.ts': 7,
  'test/integration/agent-kill.test.ts': 6,
  'test/integration/many-workers.test.ts': 6,
  'test/integration/merge-size-locks.test.ts': 6,
  'test/integration/non-superuser-copies.test.ts': 6,
  'test/integration/agent-workers.test.ts': 5,
  'test/integration/copy-access.test.ts': 5,
  'test/integration/data-diff-inherit.test.ts': 5,
  'test/integration/embedded-default.test.ts': 5,
  'test/integration/list-sizes.test.ts': 5,
  'test/integration/masking-leaks.test.ts': 5,
  'test/integration/merge-fix5.test.ts': 5,
  'test/integration/merge-held-off.test.ts': 5,
  'test/integration/merge-retype.test.ts': 5,
  'test/integration/data-diff-sql-ascii.test.ts': 4,
  'test/integration/library.test.ts': 4,
  'test/integration/lifecycle.test.ts': 4,
  'test/integration/merge-swap-acting.test.ts': 4,
  'test/integration/pooler-cli.test.ts': 4,
  'test/integration/control-table.test.ts': 3,
  'test/integration/data-diff-more.test.ts': 3,
  'test/integration/diff-last-mile.test.ts': 3,
  'test/integration/merge-settings.test.ts': 3,
  'test/integration/snapshot-deleted.test.ts': 3,
  'test/integration/data-diff-snapshot.test.ts': 2,
  'test/integration/masking-sql-only.test.ts': 2,
  'test/integration/merge-added-columns.test.ts': 2,
  'test/integration/merge-bpchar-outsider3.test.ts': 2,
  'test/integration/pooler.test.ts': 2,
  'test/integration/test-runs.test.ts': 2,
  'test/integration/agent-busy-check.test.ts': 1,
  'test/integration/copy-pipeline.test.ts': 1,
  'test/integration/dashboard-bundle.test.ts': 1,
  'test/integration/data-diff-lost-session.test.ts': 1,
  'test/integration/file-copy.test.ts': 1,
  'test/integration/managed.test.ts': 1,
  'test/integration/masking-functions.test.ts': 1,
  'test/integration/server-create-template.test.ts': 1,
  'test/integration/shared-cluster.test.ts': 1,
  'test/integration/startup.test.ts': 1,
};

/** A file not measured: unit tests start no cluster; any other is taken as 2 s per kB of test code. */
function estimate(relative: string, absolute: string): number {
  if (relative.startsWith('test/unit/')) return 0;
  try {
    return (statSync(absolute).size / 1024) * 2;
  } catch {
    return 0;
  }
}

/**
 * Longest files first, so that the two workers finish together instead of one starting a long
 * file when the other is nearly done (the order vitest picks by itself on a clean clone is by
 * file size, which says little about time). Durations vitest cached from earlier runs on this
 * machine are not used: they are not there on CI, and a run under load would reorder the files.
 */
export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification): number => {
      const relative = path.relative(root, spec.moduleId).split(path.sep).join('/');
      return MEASURED_SECONDS[relative] ?? estimate(relative, spec.moduleId);
    };
    const weighed = files.map((spec) => ({ spec, weight: seconds(spec) }));
    weighed.sort((a, b) => b.weight - a.weight || a.spec.moduleId.localeCompare(b.spec.moduleId));
    return weighed.map(({ spec }) => spec);
  }
}
