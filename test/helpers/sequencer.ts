import { statSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Seconds the longest files took in one run of the whole suite (vitest's cached durations, on 2
 * cores shared with other work, so only their order matters), scaled by what was measured alone
 * (`vitest run <file> --maxWorkers=1`) before and after a file was made faster. Refresh from the
 * JSON reporter (`--reporter=json`) when a file grows or shrinks a lot; a file missing here is
 * estimated (see estimate below).
 */
export const MEASURED_SECONDS: Readonly<Record<string, number>> = {
  'test/integration/diff-attack.test.ts': 300,
  'test/integration/diff-roundtrip.test.ts': 250,
  'test/integration/reset.test.ts': 210,
  'test/integration/snapshots.test.ts': 210,
  'test/integration/masking-init.test.ts': 150,
  'test/integration/diff-from-empty.test.ts': 130,
  'test/integration/masking-attack.test.ts': 116,
  'test/e2e/dashboard.test.ts': 98,
  'test/integration/first-hour-2.test.ts': 91,
  'test/integration/data-diff.test.ts': 89,
  'test/integration/merge.test.ts': 88,
  'test/integration/diff-pagila.test.ts': 86,
  'test/integration/diff-corpus.test.ts': 75,
  'test/integration/masking.test.ts': 71,
  'test/integration/server-history.test.ts': 69,
  'test/integration/history-access.test.ts': 68,
  'test/integration/history.test.ts': 68,
  'test/integration/recovery.test.ts': 68,
  'test/integration/masking-leaks.test.ts': 65,
  'test/integration/recovery-races.test.ts': 63,
  'test/integration/merge-exact.test.ts': 62,
  'test/integration/history-full-disk.test.ts': 59,
  'test/integration/strategy.test.ts': 59,
  'test/integration/merge-attack.test.ts': 55,
  'test/integration/data-diff-exact.test.ts': 51,
  'test/integration/diff-last-mile.test.ts': 50,
  'test/integration/masking-required.test.ts': 46,
  'test/e2e/dashboard-history.test.ts': 43,
  'test/integration/copy-access.test.ts': 41,
  'test/integration/copy-access-attack.test.ts': 40,
  'test/integration/data-diff-attack.test.ts': 40,
  'test/integration/diff-cli.test.ts': 36,
  'test/integration/masking-sql-only.test.ts': 31,
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
