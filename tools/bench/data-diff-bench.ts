/**
 * The `ayb branch diff --data` benchmark, the issue's four figures in one run, each against its target:
 *
 * - at each `--size-mb` (default 150 and 1000 MB per side): a shop database (tools/bench/dataset.ts) and
 *   a template copy of it with 100 rows changed across five tables (updates, deletes, inserts; integer
 *   and composite keys); the data diff (checksums on both servers at once, then only the differing key
 *   ranges or hash buckets) timed against one sequential scan of both sides (every row read and
 *   hashed, both databases at once), alternating the two; the ratio of the medians (target ≤ 1.5×);
 * - the fixed cost: an in-process diff of two databases of one tiny table, and the CLI's
 *   (`ayb branch diff main <branch> --data`) beyond its start-up (`ayb version`) (target ≤ 0.3 s);
 * - with `--changed-rows N` (default 1,000,000; 0 skips it): one orders table of N rows, every row
 *   changed on the second database; the peak RSS of a child process running `--output sql` (the script
 *   spooled to a file, as the CLI does) and the counting diff with examples (target ≤ 150 MB).
 *
 *     node dist-tools/tools/bench/data-diff-bench.js [--size-mb 150,1000] [--runs 3] [--changed-rows 1000000]
 *     npm run bench -- --suite datadiff [--datadiff-size-mb 150,1000] [--datadiff-changed-rows 1000000]
 *
 * A script, not a test: it measures and asserts nothing.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { compareData, withSides } from '../../src/datadiff/data-diff.js';
import { diffCounts } from '../../src/datadiff/compare.js';
import { openAyb } from '../../src/lib/index.js';
import { withClient } from '../../src/postgres/client.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { type BenchCluster, createDatasetDatabase, withBenchCluster } from './cluster.js';
import { datasetChecksum } from './dataset.js';
import { formatMb, formatSeconds, median } from './report.js';

export const DATA_DIFF_TARGET_RATIO = 1.5;
/** The target for what a diff costs beyond CLI start-up, whatever the size (connect, pin settings, catalogs, compare). */
export const FIXED_COST_TARGET_MS = 300;
/** The target for the diff's peak resident memory at 1M changed rows. */
export const RSS_TARGET_MB = 150;

/** 100 changed rows: 30 updated orders, 20 updated order items (composite key), 20 deleted events, 10 new customers, 20 updated products. */
export const CHANGES_SQL = `
  UPDATE orders SET status = 'changed' WHERE id IN (SELECT 1 + g * 40000 FROM generate_series(0, 29) g);
  UPDATE order_items SET quantity = quantity + 100 WHERE (order_id, line) IN (SELECT 1 + g * 60000, 2 FROM generate_series(0, 19) g);
  DELETE FROM events WHERE id IN (SELECT 7 + g * 50000 FROM generate_series(0, 19) g);
  INSERT INTO customers SELECT 10000000 + g, 'new' || g || '@example.com', 'New ' || g, 'DE', now() FROM generate_series(1, 10) g;
  UPDATE products SET price = price + 1 WHERE id IN (SELECT 3 + g * 2000 FROM generate_series(0, 19) g);
`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

/** The baseline: every row of both databases read and hashed once, both at the same time. */
async function scanBoth(a: ConnInfo, b: ConnInfo): Promise<void> {
  await Promise.all([withClient(a, datasetChecksum), withClient(b, datasetChecksum)]);
}

async function dataDiff(a: ConnInfo, b: ConnInfo, log?: (line: string) => void): Promise<{ added: number; removed: number; changed: number }> {
  return withSides(a, b, [], async (sa, sb) => {
    // Per table, how long the previous one took: where the time goes.
    let last = performance.now();
    let previous = 'catalogs';
    const lap = (next: string) => {
      const now = performance.now();
      log?.(`  ${previous}: ${formatSeconds(now - last)}`);
      [last, previous] = [now, next];
    };
    const { tables } = await compareData(sa, sb, { log: (line) => lap(line.replace(/^Comparing rows of (.*) …$/, '$1')) });
    lap('');
    return tables.map(diffCounts).reduce((s, c) => ({ added: s.added + c.added, removed: s.removed + c.removed, changed: s.changed + c.changed }), { added: 0, removed: 0, changed: 0 });
  });
}

/**
 * Two databases of their own with one `orders` table of `rows` rows (the shape of the dataset's),
 * every row changed on the second: the --output sql path's time and peak memory, measured in a
 * child process. Independent of the dataset's size, so that 1M changed rows are measured at any size.
 */
async function manyChanges(cluster: { conn: ConnInfo }, rows: number): Promise<string[]> {
  const [a, b] = [withDatabase(cluster.conn, 'many_a'), withDatabase(cluster.conn, 'many_b')];
  await withClient(withDatabase(cluster.conn, 'postgres'), (x) => x.query('CREATE DATABASE many_a'));
  await withClient(a, (x) => x.query(`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL, ordered_at timestamptz NOT NULL, total numeric(12,2) NOT NULL);
    INSERT INTO orders SELECT g, 1 + (g * 7919) % 100000, (ARRAY['new','paid','shipped','returned'])[1 + g % 4], timestamptz '2021-01-01' + g * interval '20 seconds', (g % 50000) / 100.0
      FROM generate_series(1::bigint, ${Number(rows)}) g`).then(() => x.query('VACUUM ANALYZE orders')));
  await withClient(withDatabase(cluster.conn, 'postgres'), (x) => x.query('CREATE DATABASE many_b TEMPLATE many_a'));
  await withClient(b, async (x) => {
    await x.query("UPDATE orders SET status = 'many'");
    await x.query('VACUUM ANALYZE orders');
  });
  const lines: string[] = [];
  for (const mode of ['sql', 'counts'] as const) {
    const { stdout } = await promisify(execFile)(process.execPath, [RSS_CHILD, mode], {
      env: { ...process.env, AYB_BENCH_A: formatConnInfo(a, { showPassword: true }), AYB_BENCH_B: formatConnInfo(b, { showPassword: true }) },
      maxBuffer: 1 << 20,
    });
    const [ms, rss, changed, bytes] = stdout.trim().split(' ').map(Number);
    const what = mode === 'sql' ? `--output sql with ${changed} changed rows: ${formatSeconds(ms!)}, a script of ${formatMb(bytes!)}` : `counts and examples (--data) with ${changed} changed rows: ${formatSeconds(ms!)}`;
    lines.push(`${what}, peak RSS of the diff's process ${formatMb(rss!)} (target at most ${RSS_TARGET_MB} MB) ${rss! <= RSS_TARGET_MB * 1024 * 1024 ? '(within)' : '(OVER)'}`);
  }
  return lines;
}

/**
 * The peak-RSS child (data-diff-rss-child.ts): a file of its own, which loads the data diff and nothing
 * of the bench (the library, the managed cluster's code), as the CLI loads only the command it runs.
 */
const RSS_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data-diff-rss-child.js');

/** The CLI's start-up: `ayb version`, wall time. */
const AYB_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/run.js');

async function cliStartup(): Promise<number> {
  const started = performance.now();
  await promisify(execFile)(process.execPath, [AYB_BIN, 'version']);
  return performance.now() - started;
}

/**
 * Two databases of one 10-row table (one row differs): what a diff costs whatever the size, in-process
 * (connect both, pin settings, catalogs, compare), and as the CLI (`ayb branch diff main <branch> --data`,
 * on main tiny_a with a template branch of it) beside the CLI's start-up (`ayb version`).
 */
async function fixedCost(cluster: { conn: ConnInfo }, runs: number): Promise<{ diffMs: number; startupMs: number; cliMs: number }> {
  const [a, b] = [withDatabase(cluster.conn, 'tiny_a'), withDatabase(cluster.conn, 'tiny_b')];
  await withClient(withDatabase(cluster.conn, 'postgres'), (c) => c.query('CREATE DATABASE tiny_a'));
  await withClient(a, (c) => c.query("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 10) i; ANALYZE t"));
  await withClient(withDatabase(cluster.conn, 'postgres'), (c) => c.query('CREATE DATABASE tiny_b TEMPLATE tiny_a'));
  await withClient(b, (c) => c.query("UPDATE t SET v = 'changed' WHERE id = 5"));
  const url = formatConnInfo(a, { showPassword: true });
  const library = await openAyb({ databaseUrl: url, env: {}, cwd: os.tmpdir() });
  await library.create('tiny', { strategy: 'template' });
  await withClient(withDatabase(cluster.conn, 'ayb_branch_tiny'), (c) => c.query("UPDATE t SET v = 'changed' WHERE id = 5"));
  const cliDiff = async () => {
    const started = performance.now();
    await promisify(execFile)(process.execPath, [AYB_BIN, 'branch', 'diff', 'main', 'tiny', '--data'], { env: { ...process.env, AYB_DATABASE_URL: url }, cwd: os.tmpdir() });
    return performance.now() - started;
  };
  await dataDiff(a, b);
  await cliStartup();
  await cliDiff();
  const diffs: number[] = [];
  const startups: number[] = [];
  const clis: number[] = [];
  for (let i = 0; i < Math.max(3, runs); i++) {
    diffs.push((await timed(() => dataDiff(a, b))).ms);
    startups.push(await cliStartup());
    clis.push(await cliDiff());
  }
  return { diffMs: median(diffs), startupMs: median(startups), cliMs: median(clis) };
}

/** The fixed cost's line: in-process, and the CLI's diff beyond its start-up, against the target. */
function fixedLine(fixed: { diffMs: number; startupMs: number; cliMs: number }): string {
  const beyond = fixed.cliMs - fixed.startupMs;
  return `fixed cost: a diff of two one-table databases takes ${formatSeconds(fixed.diffMs)} in-process; as the CLI ${formatSeconds(fixed.cliMs)}, `
    + `${formatSeconds(beyond)} beyond its start-up (ayb version, ${formatSeconds(fixed.startupMs)}) (target at most ${formatSeconds(FIXED_COST_TARGET_MS)}) ${beyond <= FIXED_COST_TARGET_MS ? '(within)' : '(OVER)'}`;
}

export interface DataDiffBenchOptions {
  /** Dataset sizes (MB per side) to time the diff against the scan at; none: only the fixed cost and --changed-rows. */
  readonly sizesMb: readonly number[];
  readonly runs: number;
  /** Rows of the --output sql / counting measurement (one table, every row changed); 0: skipped. */
  readonly changedRows: number;
}

/**
 * The whole data diff benchmark in one run, as `npm run bench -- --suite datadiff` runs it: the diff
 * against one hashing scan of both sides at each size, the fixed cost, and the peak RSS at many
 * changed rows, each against the issue's target; returns the report.
 */
export async function dataDiffSuite(options: DataDiffBenchOptions, log: (line: string) => void): Promise<string> {
  const out: string[] = [];
  const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  out.push(`machine load (1, 5, 15 min) at the start: ${load()}`);
  await withBenchCluster('ayb-data-diff-bench-', log, async (cluster) => {
    for (const sizeMb of options.sizesMb) out.push(...(await versusScan(cluster, sizeMb, options.runs, log)), `  (load at that point: ${load()})`);
    log('Measuring the fixed cost (two one-table databases) …');
    out.push(fixedLine(await fixedCost(cluster, options.runs)));
    if (options.changedRows > 0) {
      log(`Measuring ${options.changedRows} changed rows …`);
      out.push(...(await manyChanges(cluster, options.changedRows)));
    }
  });
  out.push(`machine load (1, 5, 15 min) at the end: ${load()}`);
  return `### ayb branch diff --data\n\n${out.map((l) => (l.startsWith('  ') ? l : `- ${l}`)).join('\n')}\n`;
}

/** The diff against one hashing scan of both sides on a dataset of `sizeMb` per side (databases of their own). */
async function versusScan(cluster: BenchCluster, sizeMb: number, runs: number, log: (line: string) => void): Promise<string[]> {
  const [nameA, nameB] = [`bench_a_${sizeMb}`, `bench_b_${sizeMb}`];
  const { conn: a, bytes } = await createDatasetDatabase(cluster, nameA, sizeMb, log);
  const b = withDatabase(cluster.conn, nameB);
  await withClient(withDatabase(cluster.conn, 'postgres'), (c) => c.query(`CREATE DATABASE ${nameB} TEMPLATE ${nameA}`));
  await withClient(b, async (c) => {
    await c.query(CHANGES_SQL);
    await c.query('VACUUM ANALYZE');
  });
  log('Warming the cache (not counted) …');
  await scanBoth(a, b);
  const scans: number[] = [];
  const diffs: number[] = [];
  let found = { added: 0, removed: 0, changed: 0 };
  for (let run = 1; run <= runs; run++) {
    // Alternate which goes first, so neither always meets the warmer cache.
    const order = run % 2 === 1 ? ['scan', 'diff'] : ['diff', 'scan'];
    for (const which of order) {
      if (which === 'scan') scans.push((await timed(() => scanBoth(a, b))).ms);
      else {
        const { ms, value } = await timed(() => dataDiff(a, b, log));
        diffs.push(ms);
        found = value;
      }
    }
    log(`run ${run}: scan ${formatSeconds(scans.at(-1)!)}, diff ${formatSeconds(diffs.at(-1)!)}`);
  }
  // The next size's databases take the disk: these are done.
  await withClient(withDatabase(cluster.conn, 'postgres'), async (c) => {
    await c.query(`DROP DATABASE ${nameA}`);
    await c.query(`DROP DATABASE ${nameB}`);
  });
  const ratio = median(diffs) / median(scans);
  return [`${formatMb(bytes)} per side, the bench's changes (found ${found.added} added, ${found.removed} removed, ${found.changed} changed): diff median ${formatSeconds(median(diffs))} `
    + `against ${formatSeconds(median(scans))} for one hashing scan of both sides (median of ${runs}): **${ratio.toFixed(2)}×** (target at most ${DATA_DIFF_TARGET_RATIO}×) ${ratio <= DATA_DIFF_TARGET_RATIO ? '(within)' : '(OVER)'}`];
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'size-mb': { type: 'string', default: '150,1000' }, runs: { type: 'string', default: '3' }, 'changed-rows': { type: 'string', default: '1000000' } }, strict: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const sizesMb = values['size-mb'].split(',').map(Number).filter((n) => n > 0);
  process.stdout.write(await dataDiffSuite({ sizesMb, runs: Number(values.runs), changedRows: Number(values['changed-rows']) }, log));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((error: unknown) => {
    process.stderr.write(`data diff benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
