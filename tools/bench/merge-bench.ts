/**
 * The `ayb branch merge` benchmark: the shop dataset (tools/bench/dataset.ts, ~1 GB by default) as
 * main, a branch made from it with --keep-base, N orders changed on the branch (their status; a
 * tenth of them deleted instead, and as many new orders inserted), and on main meanwhile another
 * column of some of the same orders (a cell-wise merge, no conflict). It measures:
 *
 * - the merge (`ayb branch merge`, the CLI in a child process with the RSS probe): wall time and peak RSS;
 * - the baseline: the time to COPY those N orders out of the branch and into a copy table on main
 *   (server-side COPY TO and FROM a file: the least any tool moving those rows pays);
 * - the ratio merge / COPY (target ≤ 3) and the peak RSS (target ≤ 200 MB);
 * - a dry run's locks on main: pg_locks sampled every 20 ms while it runs; any lock on a
 *   non-temporary relation stronger than AccessShareLock is reported (target: none).
 *
 *     node dist-tools/tools/bench/merge-bench.js [--size-mb 1000] [--changed-rows 100000,1000000] [--cpu-prof DIR]
 *
 * With --cpu-prof, the merges run under `node --cpu-prof` (profiles written to DIR) and the server logs
 * statements over 200 ms (its log copied to DIR at the end): where the time goes, on either side.
 *
 * A script, not a test: it measures and asserts nothing. The machine's load average is printed with the figures.
 */
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { withClient } from '../../src/postgres/client.js';
import { LOG_FILE } from '../../src/postgres/managed/options.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { cleanEnv, createDatasetDatabase, withBenchCluster } from './cluster.js';
import { formatMb, formatSeconds } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const AYB_BIN = path.resolve(here, '../../../bin/run.js');
const RSS_PROBE = pathToFileURL(path.join(here, 'rss-probe.js')).href;

const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');

/** Set by --cpu-prof: where the merge processes' CPU profiles go. */
let profileDir: string | undefined;
/** Set by --trace: the merges run with AYB_MERGE_TRACE (each phase's seconds and RSS, src/datadiff/merge-trace.ts), printed after each. */
let trace: string | undefined;

async function ayb(main: ConnInfo, args: string[], rssFile?: string): Promise<{ ms: number; rss: number | null; stdout: string; stderr: string; exitCode: number }> {
  const env = cleanEnv({ AYB_DATABASE_URL: formatConnInfo(main, { showPassword: true }), ...(rssFile ? { AYB_BENCH_RSS_FILE: rssFile } : {}), ...(trace && args[1] === 'merge' ? { AYB_MERGE_TRACE: trace } : {}) });
  const started = performance.now();
  const r = await execa('node', [...(profileDir && args[1] === 'merge' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), `--import=${RSS_PROBE}`, AYB_BIN, ...args], { reject: false, env, stdin: 'ignore' });
  const ms = performance.now() - started;
  if (profileDir) await writeFile(path.join(profileDir, `${args.slice(1).join('_').replace(/[^\w-]/g, '')}.stderr`), r.stderr);
  if (trace && args[1] === 'merge') process.stderr.write(`${r.stderr}\n`);
  const rss = rssFile ? Number(await readFile(rssFile, 'utf8').catch(() => 'NaN')) : null;
  return { ms, rss: rss !== null && Number.isFinite(rss) ? rss : null, stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

/** Samples pg_locks on main while `fn` runs: the strongest lock of another session on a permanent relation. */
async function watchLocks<T>(main: ConnInfo, fn: () => Promise<T>): Promise<{ value: T; modes: Set<string> }> {
  const modes = new Set<string>();
  let done = false;
  const watcher = withClient(main, async (c) => {
    while (!done) {
      // Client sessions only (autovacuum's ShareUpdateExclusiveLock is not the merge's), ayb's control table aside.
      const { rows } = await c.query<{ mode: string }>(
        `SELECT DISTINCT l.mode || ' on ' || r.relname AS mode FROM pg_locks l JOIN pg_class r ON r.oid = l.relation JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.pid <> pg_backend_pid() AND r.relpersistence <> 't' AND l.granted AND a.backend_type = 'client backend'
            AND r.relname NOT LIKE '\\_ayb\\_branches%' AND r.relnamespace <> 'pg_catalog'::regnamespace`,
      );
      for (const r of rows) modes.add(r.mode);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  try {
    return { value: await fn(), modes };
  } finally {
    done = true;
    await watcher;
  }
}

async function oneSize(cluster: { conn: ConnInfo; root: string }, main: ConnInfo, n: number, log: (line: string) => void): Promise<string[]> {
  const branch = `m${n}`;
  const created = await ayb(main, ['branch', 'create', branch, '--keep-base']);
  if (created.exitCode !== 0) throw new Error(created.stderr);
  const db = withDatabase(cluster.conn, `ayb_branch_${branch}`);
  const deletes = Math.floor(n / 10);
  log(`Changing ${n} orders on ${branch} (${n - 2 * deletes} updated, ${deletes} deleted, ${deletes} inserted) …`);
  await withClient(db, async (c) => {
    await c.query(`UPDATE orders SET status = 'merged' WHERE id > ${deletes} AND id <= ${n - deletes}`);
    await c.query(`DELETE FROM order_items WHERE order_id <= ${deletes}`);
    await c.query(`DELETE FROM orders WHERE id <= ${deletes}`);
    await c.query(`INSERT INTO orders SELECT 100000000 + g, 1, 'new', now(), 1 FROM generate_series(1, ${deletes}) g`);
    await c.query('VACUUM ANALYZE orders');
  });
  // Main meanwhile: another column of every tenth order the branch updated (cell-wise, no conflict).
  await withClient(main, (c) => c.query(`UPDATE orders SET total = total + 1 WHERE id > ${deletes} AND id <= ${n - deletes} AND id % 10 = 0`));

  // The baseline: the changed orders COPY'd out of the branch and into a copy table on main.
  const dir = path.join(cluster.root, 'copy');
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o777);
  const file = path.join(dir, `orders-${n}.copy`);
  await withClient(main, (c) => c.query(`CREATE TABLE bench_copy_${n} (LIKE orders INCLUDING ALL)`));
  const copyStarted = performance.now();
  await withClient(db, (c) => c.query(`COPY (SELECT * FROM orders WHERE (id > ${deletes} AND id <= ${n - deletes}) OR id > 100000000) TO '${file}'`));
  await withClient(main, (c) => c.query(`COPY bench_copy_${n} FROM '${file}'`));
  const copyMs = performance.now() - copyStarted;
  await withClient(main, (c) => c.query(`DROP TABLE bench_copy_${n}`));
  await rm(file, { force: true });

  log(`Dry run of ${n} changed rows (watching main's locks) …`);
  const loadDry = load();
  const { value: dry, modes } = await watchLocks(main, () => ayb(main, ['branch', 'merge', branch, '--dry-run', '--json'], path.join(cluster.root, `dry-${n}.rss`)));
  if (dry.exitCode !== 0) throw new Error(dry.stderr);
  log(`Merge of ${n} changed rows …`);
  const loadBefore = load();
  const merged = await ayb(main, ['branch', 'merge', branch, '--json'], path.join(cluster.root, `merge-${n}.rss`));
  if (merged.exitCode !== 0) throw new Error(merged.stderr);
  const counts = (JSON.parse(merged.stdout) as { tables: { table: string; inserted: number; updated: number; deleted: number }[] }).tables
    .filter((t) => t.inserted + t.updated + t.deleted > 0).map((t) => `${t.table} +${t.inserted} ~${t.updated} -${t.deleted}`).join(', ');
  const stronger = [...modes].filter((m) => !m.startsWith('AccessShareLock '));
  return [
    `${n} changed rows (${counts}):`,
    `  merge ${formatSeconds(merged.ms)}, peak RSS ${merged.rss === null ? '?' : formatMb(merged.rss)} (target ≤ 200 MB); load average before: ${loadBefore}`,
    `  COPY of those rows into main ${formatSeconds(copyMs)}; merge / COPY = ${(merged.ms / copyMs).toFixed(1)}× (target ≤ 3×)`,
    `  dry run ${formatSeconds(dry.ms)}, peak RSS ${dry.rss === null ? '?' : formatMb(dry.rss)}; locks on main's tables during it: ${[...modes].join(', ') || 'none seen'}${stronger.length > 0 ? ` (STRONGER THAN ACCESS SHARE: ${stronger.join(', ')})` : ''}; load average: ${loadDry}`,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'size-mb': { type: 'string', default: '1000' }, 'changed-rows': { type: 'string', default: '100000,1000000' }, 'cpu-prof': { type: 'string' }, trace: { type: 'string' } } });
  trace = values.trace;
  profileDir = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const sizeMb = Number(values['size-mb']);
  const sizes = values['changed-rows']!.split(',').map(Number);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const lines = await withBenchCluster('ayb-merge-bench-', log, async (cluster) => {
    const { conn, bytes } = await createDatasetDatabase(cluster, 'bench_main', sizeMb, log);
    if (profileDir) await withClient(cluster.conn, async (c) => {
      await c.query('ALTER SYSTEM SET log_min_duration_statement = 200');
      await c.query('SELECT pg_reload_conf()');
    });
    const out = [`merge bench: main of ${formatMb(bytes)} on ${os.cpus().length} CPU(s), load average at start ${load()}`];
    try {
      for (const n of sizes) out.push(...(await oneSize(cluster, conn, n, log)));
    } finally {
      if (profileDir) await copyFile(path.join(cluster.dataDir, LOG_FILE), path.join(profileDir, 'postgres.log')).catch((e: unknown) => log(`no server log: ${String(e)}`));
    }
    return out;
  });
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
