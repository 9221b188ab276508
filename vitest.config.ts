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
    maxWorkers: 2,
    // The longest files start first, so that both workers end together (test/helpers/sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
  },
});
