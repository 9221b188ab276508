/**
 * The peak-RSS child of the data diff benchmark (data-diff-bench.ts, `--changed-rows`): run as
 * `node data-diff-rss-child.js sql|counts`. It imports the data diff alone, so that its peak RSS is
 * the diff's and not the bench's.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareData, dataMigration, tableChange, withSides } from '../../src/datadiff/data-diff.js';
import { diffCounts } from '../../src/datadiff/compare.js';
import { parseConnInfo } from '../../src/postgres/conninfo.js';

/**
 * The child of `--changed-rows`: the diff and its whole --output sql script (written to a temporary file
 * with backpressure, as the CLI spools it), or with `counts` the counting diff alone (each table in a
 * snapshot of its own, as `--data` and `--output json` run), in a process of its own so that its peak RSS
 * is its own; prints `<ms> <bytes> <changed> <script bytes>`. The two databases come in AYB_BENCH_A /
 * AYB_BENCH_B (never in argv: they hold a password).
 */
async function rssChild(mode: 'sql' | 'counts'): Promise<void> {
  const [a, b] = [parseConnInfo(process.env.AYB_BENCH_A!), parseConnInfo(process.env.AYB_BENCH_B!)];
  const started = performance.now();
  let bytes = 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-bench-sql-'));
  try {
    const changed = await withSides(a, b, [], async (sa, sb) => {
      const comparison = await compareData(sa, sb);
      for (const t of comparison.tables) tableChange(t, 20);
      if (mode === 'sql') {
        const out = createWriteStream(path.join(dir, 'rows.sql'));
        await dataMigration(sa, sb, comparison, 'bench', {
          async write(text) {
            bytes += Buffer.byteLength(text);
            if (!out.write(text)) await once(out, 'drain');
          },
        });
        out.end();
        await once(out, 'close');
      }
      return comparison.tables.reduce((n, t) => n + diffCounts(t).changed, 0);
    }, { snapshot: mode === 'sql' ? { a: 'table', b: 'whole' } : 'table' });
    process.stdout.write(`${performance.now() - started} ${process.resourceUsage().maxRSS * 1024} ${changed} ${bytes}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await rssChild(process.argv[2] === 'counts' ? 'counts' : 'sql');
