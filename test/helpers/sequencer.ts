import { statSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Seconds each file took in one clean-clone run of the whole suite (`CI=true bash .ci/run`, 2 cores,
 * 2 workers, 2026-12-07), files over 15 s; only their order matters. Refresh from the JSON reporter
 * (`--reporter=json`) when a file grows or shrinks a lot; a file missing here is estimated (see
 * estimate below).
 */
export const MEASURED_SECONDS: Readonly<Record<string, number>> = {
  // history-gaps holds history-outsider's cases too (one private cluster; 55 + 39 s before). It,
  // merge-outsider (96 s before) and diff-attack (77 s before): estimated from runs of each file
  // alone before and after its set-up changed (the ratio applied to the measured seconds).
  'test/integration/history-gaps.test.ts': 82,
  'test/integration/masking-attack.test.ts': 79,
  'test/integration/disconnect-guard.test.ts': 75,
  'test/integration/copy-access-attack.test.ts': 65,
  'test/integration/diff-roundtrip.test.ts': 57,
  'test/integration/merge-exact.test.ts': 53,
  'test/integration/diff-attack.test.ts': 51,
  'test/integration/recovery.test.ts': 48,
  'test/integration/history.test.ts': 44,
  'test/integration/strategy.test.ts': 43,
  'test/integration/merge-attack.test.ts': 42,
  'test/integration/concurrency.test.ts': 37,
  'test/integration/data-diff-outsider.test.ts': 37,
  'test/integration/help.test.ts': 37,
  'test/integration/expiry.test.ts': 37,
  'test/integration/data-diff-exact.test.ts': 36,
  'test/integration/clone-pg18.test.ts': 35,
  'test/integration/data-diff-attack.test.ts': 35,
  'test/integration/branch-tree.test.ts': 31,
  'test/integration/merge-outsider.test.ts': 31,
  'test/integration/start.test.ts': 30,
  'test/integration/reset.test.ts': 29,
  'test/integration/history-carries.test.ts': 29,
  'test/integration/history-access.test.ts': 28,
  'test/e2e/dashboard.test.ts': 27,
  'test/integration/diff-cli.test.ts': 27,
  'test/integration/recovery-races.test.ts': 27,
  'test/integration/masking-init.test.ts': 26,
  'test/integration/stuck-locks.test.ts': 26,
  'test/integration/merge-set-based.test.ts': 25,
  'test/integration/errors.test.ts': 25,
  'test/integration/snapshots.test.ts': 24,
  'test/integration/rename.test.ts': 24,
  'test/integration/first-hour-2.test.ts': 24,
  'test/integration/clone-fidelity.test.ts': 23,
  'test/integration/interrupts.test.ts': 22,
  'test/integration/diff-pagila.test.ts': 22,
  'test/integration/list-sizes.test.ts': 21,
  'test/integration/agent-workers.test.ts': 21,
  'test/integration/diff-from-empty.test.ts': 21,
  'test/integration/non-superuser-copies.test.ts': 21,
  'test/integration/embedded-default.test.ts': 21,
  'test/integration/data-diff.test.ts': 21,
  'test/integration/masking-required.test.ts': 20,
  'test/integration/masking.test.ts': 19,
  'test/integration/from-credentials.test.ts': 19,
  'test/integration/secrets.test.ts': 17,
  'test/integration/server-history.test.ts': 17,
  'test/integration/diff-corpus.test.ts': 17,
  'test/integration/delete.test.ts': 16,
  'test/integration/snapshot-deleted.test.ts': 16,
  'test/integration/library.test.ts': 15,
  'test/integration/lifecycle.test.ts': 15,
  'test/integration/merge-settings.test.ts': 15,
  'test/integration/first-hour.test.ts': 15,
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
