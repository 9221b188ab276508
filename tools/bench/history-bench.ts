/**
 * The point-in-time benchmark (README "Point-in-time branches"): how long a branch of main at a past
 * moment takes, split into restore, replay and copy, and how much disk the history of a day uses.
 *
 * On a throwaway managed cluster: main loaded with `pgbench -i -s <scale>` (scale 70 is about 1 GB),
 * then `[history] enabled = true` (ayb turns on archiving and takes the base backup), then "a day of
 * writes": --rate transactions per second for a day (default 10 tps × 86,400 s = 864,000 pgbench
 * TPC-B transactions), run as fast as the machine goes, since nobody waits a day; --transactions
 * overrides the count (a smaller run states its own figures, and the script extrapolates nothing).
 * Then `ayb branch create pit --from main@<a moment 1 s before the writes ended>`, whose own lines
 * on stderr give the three phases: restoring the base backup, replaying the WAL up to the moment,
 * copying the database into the branch. Prints a Markdown summary with the load average.
 *
 * With --branches N (default 10), N branches of main are made after the first base backup and each
 * gets --branch-transactions writes (default a tenth of main's): the WAL each phase writes (branch
 * creation, main's writes, the branches' writes) is measured with pg_current_wal_lsn, and a second
 * base backup, taken after them, is split by database (`ayb history --json`, share): branches live in
 * main's cluster, so their WAL is archived and every base backup holds them.
 *
 *     npm run bench:history -- [--scale 70] [--rate 10] [--transactions <n>] [--clients 2] [--branches 10] [--branch-transactions <n>]
 *
 * A script, not a test: it measures and asserts nothing.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { withClient } from '../../src/postgres/client.js';
import { libpqEnv } from '../../src/postgres/conninfo.js';
import { diskUsage } from '../../src/history/store.js';
import { cleanEnv, withBenchCluster } from './cluster.js';
import { formatMb, formatSeconds } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const AYB_BIN = path.resolve(here, '../../..', 'bin', 'run.js');
const DAY_S = 86_400;

const log = (line: string) => process.stderr.write(`${line}\n`);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(', ');

async function pgbench(): Promise<string> {
  const bindir = await execa('pg_config', ['--bindir'], { reject: false });
  const file = path.join(String(bindir.stdout ?? '').trim(), 'pgbench');
  const version = await execa(file, ['--version'], { reject: false });
  if (version.exitCode !== 0) throw new Error(`pgbench not found at ${file} (pg_config --bindir); install the PostgreSQL client tools`);
  return file;
}

/** The three phases of a point-in-time branch, from the lines ayb prints (src/history/restore.ts, src/branching/point-in-time.ts). */
export function phasesOf(stderr: string): { restoreS: number; replayS: number; copyS: number } {
  const restored = /Restored \S+ in ([\d.]+)s, replayed WAL to .* in ([\d.]+)s/.exec(stderr);
  const copied = /Copied main as of .* in ([\d.]+)s/.exec(stderr);
  if (!restored || !copied) throw new Error(`ayb did not print its phase timings; its stderr was:\n${stderr.slice(-2000)}`);
  return { restoreS: Number(restored[1]), replayS: Number(restored[2]), copyS: Number(copied[1]) };
}

/** The bench's options, checked. */
function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string', default: '70' },
      rate: { type: 'string', default: '10' },
      transactions: { type: 'string' },
      clients: { type: 'string', default: '2' },
      branches: { type: 'string', default: '10' },
      'branch-transactions': { type: 'string' },
    },
    strict: true,
  });
  const scale = Number(values.scale);
  const rate = Number(values.rate);
  const clients = Number(values.clients);
  const day = Math.round(rate * DAY_S);
  const transactions = values.transactions ? Number(values.transactions) : day;
  if (![scale, rate, clients, transactions].every((n) => Number.isFinite(n) && n > 0)) throw new Error('--scale, --rate, --clients and --transactions must be positive numbers');
  const perClient = Math.ceil(transactions / clients);
  const branches = Number(values.branches);
  const branchTransactions = values['branch-transactions'] ? Number(values['branch-transactions']) : Math.ceil(transactions / 10);
  if (!Number.isInteger(branches) || branches < 0 || !(branchTransactions > 0)) throw new Error('--branches must be a whole number, --branch-transactions positive');
  return { scale, rate, clients, day, transactions, perClient, branches, branchTransactions };
}

async function main(argv: string[]): Promise<void> {
  const { scale, rate, clients, day, transactions, perClient, branches, branchTransactions } = parseOptions(argv);
  const tool = await pgbench();
  const lines: string[] = [];
  const note = (line: string) => {
    lines.push(line);
    log(line);
  };

  await withBenchCluster('ayb-history-bench-', log, async (cluster) => {
    const { host, port, user, database } = cluster.conn;
    const env = { ...cleanEnv(), ...libpqEnv(cluster.conn), PGHOST: host, PGPORT: String(port), PGUSER: user ?? 'ayb', PGDATABASE: database };
    const managed = `[managed_pg]\ndata_dir = ${JSON.stringify(cluster.dataDir)}\nport = ${cluster.port}\n`;
    const config = path.join(cluster.root, 'ayb.toml');
    // A base backup a month: the one taken at the start serves the whole run.
    await writeFile(config, `${managed}\n[history]\nenabled = true\ndir = "history"\nkeep = "30d"\nbase_backup_every = "30d"\n`);
    const historyDir = path.join(cluster.root, 'history');
    const ayb = (args: string[]) => execa('node', [AYB_BIN, ...args, '--config', config], { reject: false, env: cleanEnv(), stdin: 'ignore' });

    log(`pgbench -i -s ${scale} (history still off) …`);
    let started = performance.now();
    const init = await execa(tool, ['-i', '-s', String(scale), '-q'], { reject: false, env, all: true });
    if (init.exitCode !== 0) throw new Error(`pgbench -i failed: ${String(init.all).slice(-1000)}`);
    const mainBytes = await withClient(cluster.conn, async (c) => Number((await c.query<{ s: string }>('SELECT pg_database_size(current_database())::text AS s')).rows[0]!.s));
    note(`- main: \`pgbench -i -s ${scale}\`, ${formatMb(mainBytes)}, loaded in ${formatSeconds(performance.now() - started)} (load average ${load()})`);

    started = performance.now();
    const enabled = await ayb(['history']);
    if (enabled.exitCode !== 0) throw new Error(`ayb history failed: ${String(enabled.stderr).slice(-1000)}`);
    const baseBytes = await diskUsage(path.join(historyDir, 'base'));
    note(`- \`[history] enabled = true\`: archiving on (one restart) and the base backup (${formatMb(baseBytes)}) in ${formatSeconds(performance.now() - started)} (load average ${load()})`);

    const lsn = () => withClient(cluster.conn, async (c) => (await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l);
    const walSince = (from: string) => withClient(cluster.conn, async (c) => Number((await c.query<{ b: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS b', [from])).rows[0]!.b));
    if (branches > 0) {
      log(`${branches} branches of main …`);
      started = performance.now();
      const from = await lsn();
      for (let i = 1; i <= branches; i++) {
        const made = await ayb(['branch', 'create', `b${i}`, '--strategy', 'template']);
        if (made.exitCode !== 0) throw new Error(`ayb branch create b${i} failed: ${String(made.stderr).slice(-1000)}`);
      }
      note(`- ${branches} branches of main (template copies): ${formatSeconds(performance.now() - started)}, ${formatMb(await walSince(from))} of WAL written (and archived) by making them (load average ${load()})`);
    }
    const mainFrom = await lsn();
    log(`pgbench: ${transactions} transactions on ${clients} client(s) …`);
    started = performance.now();
    const writes = await execa(tool, ['-n', '-c', String(clients), '-j', String(clients), '-t', String(perClient), '-P', '60'], { reject: false, env, all: true });
    if (writes.exitCode !== 0) throw new Error(`pgbench failed: ${String(writes.all).slice(-1000)}`);
    const writeMs = performance.now() - started;
    const done = perClient * clients;
    const tps = done / (writeMs / 1000);
    const moment = await withClient(cluster.conn, async (c) =>
      (await c.query<{ t: string }>(`SELECT to_char((clock_timestamp() - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t);
    const stand = transactions === day ? 'a day' : `${((done / rate / DAY_S) * 24).toFixed(1)} hours`;
    note(`- writes: ${done.toLocaleString('en')} pgbench (TPC-B) transactions, ${stand} at ${rate} tps, run in ${formatSeconds(writeMs)} (${tps.toFixed(0)} tps; load average ${load()}), ${formatMb(await walSince(mainFrom))} of WAL`);
    if (branches > 0) {
      const branchFrom = await lsn();
      started = performance.now();
      const per = Math.ceil(branchTransactions / clients);
      for (let i = 1; i <= branches; i++) {
        const w = await execa(tool, ['-n', '-c', String(clients), '-j', String(clients), '-t', String(per)], { reject: false, env: { ...env, PGDATABASE: `ayb_branch_b${i}` }, all: true });
        if (w.exitCode !== 0) throw new Error(`pgbench on branch b${i} failed: ${String(w.all).slice(-1000)}`);
      }
      note(`- writes on the branches: ${(per * clients).toLocaleString('en')} transactions on each of the ${branches}, run in ${formatSeconds(performance.now() - started)} (load average ${load()}), ${formatMb(await walSince(branchFrom))} of WAL, archived with main's`);
    }

    // Everything written is archived before the disk is counted (the branch below waits for it as well).
    const status = await ayb(['history', '--json']);
    const walBytes = await diskUsage(path.join(historyDir, 'wal'));
    note(`- history after the writes: base backup ${formatMb(baseBytes)} + WAL ${formatMb(walBytes)} = ${formatMb(baseBytes + walBytes)} (${(walBytes / (done + (branches > 0 ? branches * Math.ceil(branchTransactions / clients) * clients : 0))).toFixed(0)} bytes of WAL per transaction, main's and the branches' together)${status.exitCode === 0 ? '' : ' (ayb history failed)'}`);

    if (branches > 0) {
      // A second base backup, now that the branches exist: how much of it is theirs.
      await writeFile(config, `${managed}\n[history]\nenabled = true\ndir = "history"\nkeep = "30d"\nbase_backup_every = "1s"\n`);
      started = performance.now();
      const second = await ayb(['history', '--json']);
      await writeFile(config, `${managed}\n[history]\nenabled = true\ndir = "history"\nkeep = "30d"\nbase_backup_every = "30d"\n`);
      if (second.exitCode !== 0) throw new Error(`ayb history failed: ${String(second.stderr).slice(-1000)}`);
      const status = JSON.parse(String(second.stdout)) as { base_backups: { bytes: number }[]; share: { main_bytes: number; branches_bytes: number; newest: { databases: { kind: string; bytes: number }[] } } };
      const newest = status.share.newest.databases;
      const sum = (kind: string) => newest.filter((d) => d.kind === kind).reduce((a, d) => a + d.bytes, 0);
      note(`- a base backup after them: ${formatMb(status.base_backups.at(-1)!.bytes)} (was ${formatMb(status.base_backups[0]!.bytes)} before the branches), of which main ${formatMb(sum('main'))} and the ${branches} branches ${formatMb(sum('branch'))}, taken in ${formatSeconds(performance.now() - started)} (load average ${load()})`);
    }
    log(`ayb branch create pit --from main@${moment} …`);
    started = performance.now();
    const branch = await ayb(['branch', 'create', 'pit', '--from', `main@${moment}`]);
    const totalMs = performance.now() - started;
    if (branch.exitCode !== 0) throw new Error(`ayb branch create --from main@… failed: ${String(branch.stderr).slice(-2000)}`);
    const phases = phasesOf(String(branch.stderr));
    note(`- \`ayb branch create pit --from main@<1 s before the writes ended>\`: ${formatSeconds(totalMs)} in all: restore ${phases.restoreS.toFixed(1)} s, replay ${phases.replayS.toFixed(1)} s, copy ${phases.copyS.toFixed(1)} s (load average ${load()})`);
  });
  process.stdout.write(`## Point-in-time branch benchmark\n\n${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB\n\n${lines.join('\n')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`history benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
