import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/helpers/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL cluster per worker slot, shared by the files that run in it (test/helpers/cluster.ts).
    globalSetup: ['test/helpers/shared-clusters.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    // Three workers on two cores: the files spend most of their time waiting on PostgreSQL and the
    // processes they start (a clean run with two used about one core on average: 19 min of CPU in
    // 19 min), so a third keeps both cores busy. Each worker slot has its own shared cluster.
    maxWorkers: 3,
    // The longest files start first, so that both workers end together (test/helpers/sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
  },
});
