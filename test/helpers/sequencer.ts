import { statSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Seconds each file took in one run of the whole suite (3 workers, 2 cores, 2026-12-07, on a machine
 * busy with other work: times scaled by 0.44, the ratio of a quiet clean-clone run's), files over 15 s;
 * the ten heaviest taken from a later clean-clone run (vitest 903 s), disconnect-guard scaled by
 * its cut (87 s -> 25 s alone, once its guard retried every 200 ms); files added after that run
 * estimated by hand from runs of their own (merge-refactions and merge-server: alone with --maxWorkers=1,
 * times 0.30, the ratio of merge-exact's clean-clone figure to its own run alone in the same hour);
 * only their order matters. Refresh from the JSON reporter
 * (`--reporter=json`) when a file grows or shrinks a lot; a file missing here is estimated (see
 * estimate below).
 */
export const MEASURED_SECONDS: Readonly<Record<string, number>> = {
  'test/integration/masking-attack.test.ts': 125,
  'test/integration/copy-access-attack.test.ts': 117,
  'test/integration/data-diff-attack.test.ts': 100,
  'test/integration/recovery.test.ts': 99,
  'test/integration/merge-exact.test.ts': 89,
  'test/integration/expiry.test.ts': 89,
  'test/integration/history-gaps.test.ts': 87,
  'test/integration/merge-outsider2.test.ts': 85,
  'test/integration/data-diff-outsider.test.ts': 82,
  'test/integration/diff-roundtrip.test.ts': 76,
  'test/integration/merge-attack.test.ts': 72,
  'test/integration/history.test.ts': 66,
  'test/integration/strategy.test.ts': 56,
  'test/integration/errors.test.ts': 51,
  'test/integration/diff-attack.test.ts': 48,
  'test/integration/from-credentials.test.ts': 48,
  'test/integration/start.test.ts': 47,
  'test/integration/merge-outsider.test.ts': 44,
  'test/integration/snapshots.test.ts': 40,
  'test/integration/first-hour-2.test.ts': 40,
  'test/integration/masking.test.ts': 40,
  'test/integration/merge-set-based.test.ts': 39,
  'test/integration/create-failures.test.ts': 39,
  'test/integration/help.test.ts': 35,
  'test/integration/data-diff-exact.test.ts': 34,
  'test/integration/masking-init.test.ts': 33,
  'test/integration/merge-refactions.test.ts': 32,
  'test/integration/concurrency.test.ts': 30,
  'test/integration/diff-from-empty.test.ts': 29,
  'test/integration/interrupts.test.ts': 28,
  'test/integration/disconnect-guard.test.ts': 27,
  'test/integration/data-diff.test.ts': 27,
  'test/integration/branch-tree.test.ts': 27,
  'test/integration/reset.test.ts': 27,
  'test/integration/data-diff-outsider2.test.ts': 25,
  'test/integration/merge-swap-acting.test.ts': 25,
  'test/integration/stuck-locks.test.ts': 24,
  'test/integration/history-carries.test.ts': 22,
  'test/integration/server.test.ts': 22,
  'test/integration/secrets.test.ts': 21,
  'test/integration/merge-server.test.ts': 21,
  'test/integration/history-access.test.ts': 20,
  'test/integration/data-diff-snapshot.test.ts': 18,
  'test/integration/diff-cli.test.ts': 17,
  'test/integration/masking-leaks.test.ts': 17,
  'test/integration/first-hour.test.ts': 17,
  'test/integration/recovery-races.test.ts': 16,
  'test/integration/non-superuser-copies.test.ts': 16,
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
