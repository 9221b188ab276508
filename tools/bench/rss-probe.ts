/**
 * Preloaded into the ayb process by the benchmark (`node --import …/rss-probe.js bin/run.js …`):
 * at exit it writes the process's own peak resident set size (getrusage RUSAGE_SELF, so pg_dump and
 * psql are not counted) in bytes to the file named by AYB_BENCH_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';

const target = process.env.AYB_BENCH_RSS_FILE;
if (target) {
  process.on('exit', () => {
    try {
      writeFileSync(target, String(process.resourceUsage().maxRSS * 1024));
    } catch {
      // The benchmark reports a missing figure; never disturb the command.
    }
  });
}
