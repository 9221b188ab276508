import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/helpers/sequencer.js';

const DIST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');
const DIST_PATTERN = new RegExp(`^${DIST.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/`);

export default defineConfig({
  test: {
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
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Pure logic, no cluster and no state kept between files: the files of a worker share one
          // process and its loaded modules. A fresh process per file cost some 0.8 s of CPU each
          // (40 files: 41 s of CPU isolated, 10 s not, under load 12).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', '**/node_modules/**'],
          // One PostgreSQL cluster per worker slot, shared by the files that run in it (test/helpers/cluster.ts).
          // Each file keeps a process of its own: ayb's modules remember servers by host and port
          // (control-table.ts, recovery.ts), and a slot's cluster keeps its port from file to file.
          globalSetup: ['test/helpers/shared-clusters.ts'],
          // ayb's code imported by these files and their helpers (`../../src/x.js`) is taken from the
          // build (dist/x.js, which the CLI they test needs anyway, so `npm run build` first) and loaded
          // by Node itself, not compiled from TypeScript by vite in every file's process: importing
          // src/lib cost 0.9 s of CPU per file, dist/lib 0.3 s (5 files importing it: 8.1 s against
          // 5.0 s of CPU). All of a file's imports of src go there, so it holds one copy of each module.
          alias: [{ find: /^\.\.\/\.\.\/src\/(.*)$/, replacement: `${DIST}/$1` }],
          server: { deps: { external: [DIST_PATTERN] } },
        },
      },
    ],
  },
});
