/**
 * `npm run bench -- --suite scale`: issue 28 items 4 and 5, on a throwaway managed cluster with a
 * small dataset, one `ayb start --pooler` (its own state folder, so the CLI finds its pause socket).
 *
 *   - busy parent: a branch made from a branch a client is connected to through the pooler, against
 *     the same from an idle branch, through the admin API and through the CLI (which pauses through
 *     the server's socket, pooler/pause-socket.ts), and the bare `CREATE DATABASE … TEMPLATE …
 *     STRATEGY FILE_COPY` of the idle branch on an open session; interleaved round by round. Two
 *     busy clients: one idle between transactions, and one running short transactions back to back
 *     all along (its statements wait while the source is paused: their longest wait is reported).
 *     Every create must be a template copy, or the run fails: a dump would be a different contest.
 *   - many: N branches (default 500) from a snapshot made through the admin API by 8 clients at
 *     once; the list as the admin API gives it (without sizes, what the dashboard draws first; then
 *     the dashboard's two requests, branches and snapshots, with sizes), as the CLI prints it (JSON
 *     and table) and the bare `SELECT … FROM _ayb_branches` on an open session; then all deleted by
 *     8 clients at once. The load average is printed with the figures.
 *
 * Each figure: median and p95 over `--scale-ops` operations (default 30). It asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { type Client, connect } from '../../src/postgres/client.js';
import { formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { cleanEnv, createDatasetDatabase, withBenchCluster } from './cluster.js';
import { AYB_BIN, type AdminApi, inWorkers, loadText, p95, startAdminApi, timed } from './ayb-process.js';
import { median } from './report.js';

export interface ScaleBenchOptions {
  readonly ops: number;
  readonly many: number;
  readonly sizeMb: number;
}

/** Concurrent clients making and deleting the many branches. */
const WORKERS = 8;

interface Bench {
  readonly options: ScaleBenchOptions;
  readonly log: (line: string) => void;
  readonly api: AdminApi;
  readonly cli: (...args: string[]) => Promise<string>;
  /** On the `postgres` database: the bare statements. */
  readonly admin: Client;
  /** On main: the bare read of the control table. */
  readonly control: Client;
  readonly record: (operation: string, contender: string, ms: number) => void;
  readonly notes: string[];
}

interface Series {
  readonly operation: string;
  readonly contender: string;
  readonly times: number[];
}

/** Runs the suite and returns its Markdown section. */
export async function scaleSuite(options: ScaleBenchOptions, log: (line: string) => void): Promise<string> {
  return withBenchCluster('ayb-bench-scale-', log, async (cluster) => {
    const { conn: main, bytes } = await createDatasetDatabase(cluster, 'app', options.sizeMb, log);
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'ayb-bench-state-'));
    const env = cleanEnv({ AYB_DATABASE_URL: formatConnInfo(main, { showPassword: true }), AYB_STATE_DIR: stateDir, NO_COLOR: '1' });
    const cli = async (...args: string[]) => {
      const result = await execa('node', [AYB_BIN, ...args], { env, reject: false, stdin: 'ignore' });
      if (result.exitCode !== 0) throw new Error(`ayb ${args.join(' ')} failed (exit ${result.exitCode}): ${String(result.stderr).slice(0, 400)}`);
      return String(result.stdout);
    };
    const admin: Client = await connect(withDatabase(main, 'postgres'));
    const control: Client = await connect(main);
    const api = await startAdminApi(env, ['--pooler']);
    const series = new Map<string, Series>();
    const record = (operation: string, contender: string, ms: number) => {
      const key = `${operation}\u0000${contender}`;
      if (!series.has(key)) series.set(key, { operation, contender, times: [] });
      series.get(key)!.times.push(ms);
    };
    const notes: string[] = [];
    const bench: Bench = { options, log, api, cli, admin, control, record, notes };
    try {
      const loadBefore = os.loadavg();
      await busyParent(bench);
      log(partial(series, 'after the busy parent'));

      const summary = await manyBranches(bench);
      log(partial(series, 'after the lists'));
      const loadAfter = os.loadavg();

      const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)} ms` : '—');
      const idleOf = (contender: string) => median(series.get(`create from a branch\u0000${contender.replace('busy through the pooler', 'idle')}`)?.times ?? []);
      const bare = median(series.get('create from a branch\u0000bare, idle')?.times ?? []);
      const rows = [...series.values()].map((s) => {
        const versus = s.operation !== 'create from a branch' || s.contender.startsWith('bare')
          ? '—'
          : `${(median(s.times) / bare).toFixed(2)}× bare${s.contender.includes('busy') ? `, ${(median(s.times) / idleOf(s.contender)).toFixed(2)}× idle` : ''}`;
        return `| ${s.operation} | ${s.contender} | ${ms(median(s.times))} | ${ms(p95(s.times))} | ${s.times.length} | ${versus} |`;
      });
      return [
        `### Busy parents and many branches: dataset ${(bytes / 1024 / 1024).toFixed(0)} MB, ${options.ops} operations per figure, interleaved`,
        '',
        `Load average (1, 5, 15 min) on ${os.cpus().length} cores: ${loadText(loadBefore)} at the start, ${loadText(loadAfter)} at the end.`,
        '',
        '| operation | contender | median | p95 | n | against |',
        '| --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
        ...notes,
        '',
        summary,
      ].join('\n');
    } finally {
      await admin.end().catch(() => undefined);
      await control.end().catch(() => undefined);
      await api.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
}

/** Item 4: creates from a branch a client is connected to through the pooler, against an idle one and the bare statement. */
async function busyParent({ options, log, api, cli, admin, record, notes }: Bench): Promise<void> {
  // ---- busy parent ----
  await api.call('POST', '/api/admin/branches', { name: 'busy-parent' });
  await api.call('POST', '/api/admin/branches', { name: 'idle-parent' });
  const { url: busyUrl } = (await api.call('GET', '/api/admin/branches/busy-parent/url')) as { url: string };
  const idleClient = new pg.Client({ connectionString: busyUrl, application_name: 'bench-idle-client' });
  const loopClient = new pg.Client({ connectionString: busyUrl, application_name: 'bench-loop-client' });
  const clientErrors: string[] = [];
  for (const c of [idleClient, loopClient]) c.on('error', (error) => clientErrors.push(error.message));
  await idleClient.connect();
  await loopClient.connect();
  await loopClient.query('CREATE TABLE IF NOT EXISTS bench_ticks (at timestamptz DEFAULT now())');
  // The busy client: short transactions back to back for as long as the busy rounds last.
  let looping = true;
  const loopWaits: number[] = [];
  const loop = (async () => {
    while (looping) loopWaits.push(await timed(() => loopClient.query('INSERT INTO bench_ticks DEFAULT VALUES')));
  })();
  const strategyOf = (made: unknown) => (made as { strategy: string }).strategy;
  const mustBeTemplate = (who: string, strategy: string) => {
    if (strategy !== 'template') throw new Error(`${who}: a ${strategy} copy, not a template copy`);
  };
  log(`Busy parent: ${options.ops} creates per contender, interleaved …`);
  const contenders = ['bare, idle', 'API, idle', 'API, busy through the pooler', 'CLI, idle', 'CLI, busy through the pooler'] as const;
  for (let round = 0; round < options.ops; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const who of order) {
      const parent = who.includes('busy') ? 'busy-parent' : 'idle-parent';
      const name = `r${round}-${contenders.indexOf(who)}`;
      if (who === 'bare, idle') {
        record('create from a branch', who, await timed(() => admin.query(`CREATE DATABASE ${quoteIdent(`bare_${round}`)} TEMPLATE ayb_branch_idle_parent STRATEGY FILE_COPY`)));
        await admin.query(`DROP DATABASE ${quoteIdent(`bare_${round}`)}`);
      } else if (who.startsWith('API')) {
        record('create from a branch', who, await timed(async () => mustBeTemplate(`API ${name}`, strategyOf(await api.call('POST', '/api/admin/branches', { name, from: parent })))));
        await api.call('DELETE', `/api/admin/branches/${name}`);
      } else {
        record('create from a branch', who, await timed(async () => mustBeTemplate(`CLI ${name}`, strategyOf(JSON.parse(await cli('branch', 'create', name, '--from', parent, '--json'))))));
        await api.call('DELETE', `/api/admin/branches/${name}`);
      }
    }
    if ((round + 1) % 10 === 0) log(`  ${round + 1}/${options.ops} rounds`);
  }
  looping = false;
  await loop;
  await idleClient.query('SELECT 1'); // both clients' connections lived through every pause
  await idleClient.end();
  await loopClient.end();
  notes.push(`The client running short transactions on the busy parent all along: ${loopWaits.length} statements, median ${median(loopWaits).toFixed(0)} ms, p95 ${p95(loopWaits).toFixed(0)} ms, longest ${Math.max(...loopWaits).toFixed(0)} ms (its wait while the parent was paused); connection errors: ${clientErrors.length === 0 ? 'none' : clientErrors.join('; ')}.`);
}

/** Item 5: many branches made, listed and deleted; returns the sentence that says the totals. */
async function manyBranches({ options, log, api, cli, admin, control, record }: Bench): Promise<string> {
  // ---- many branches ----
  log(`Making ${options.many} branches from a snapshot through the API, ${WORKERS} clients at once …`);
  await api.call('POST', '/api/admin/snapshots', { name: 'many-seed' });
  const createTimes: number[] = [];
  const manyStarted = performance.now();
  await inWorkers(options.many, WORKERS, async (i) => createTimes.push(await timed(() => api.call('POST', '/api/admin/branches', { name: `m-${i}`, from: 'many-seed' }))));
  const manyCreateMs = performance.now() - manyStarted;
  const listed = (await api.call('GET', '/api/admin/branches')) as { branches: unknown[] };
  if (listed.branches.length < options.many) throw new Error(`the API lists ${listed.branches.length} branches, not ${options.many}`);
  log(`Listing ${listed.branches.length} branches …`);
  const many = `list of ${listed.branches.length} branches`;
  for (let i = 0; i < options.ops; i++) {
    record(many, 'bare: SELECT * FROM _ayb_branches', await timed(() => control.query('SELECT * FROM _ayb_branches ORDER BY created_at')));
    record(many, 'API (the dashboard\'s first draw: branches + snapshots, no sizes)', await timed(() => Promise.all([api.call('GET', '/api/admin/branches'), api.call('GET', '/api/admin/snapshots')])));
    record(many, 'API GET /api/admin/branches', await timed(() => api.call('GET', '/api/admin/branches')));
    record(many, 'CLI branch list --json', await timed(() => cli('branch', 'list', '--json')));
    record(many, 'CLI branch list (table)', await timed(() => cli('branch', 'list')));
  }
  // With sizes (a scan of every database's files): the dashboard's second request, a few times.
  for (let i = 0; i < Math.min(5, options.ops); i++) {
    record(`${many}, with sizes`, 'API (the dashboard\'s second request)', await timed(() => Promise.all([api.call('GET', '/api/admin/branches?sizes=true'), api.call('GET', '/api/admin/snapshots?sizes=true')])));
  }
  log('Deleting them …');
  const deleteTimes: number[] = [];
  const deleteStarted = performance.now();
  await inWorkers(options.many, WORKERS, async (i) => deleteTimes.push(await timed(() => api.call('DELETE', `/api/admin/branches/m-${i}`))));
  const manyDeleteMs = performance.now() - deleteStarted;
  await api.call('DELETE', '/api/admin/snapshots/many-seed');
  const leftover = (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'ayb\\_branch\\_m\\_%'")).rows[0]!.n;
  const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)} ms` : '—');
  return `${options.many} branches from a snapshot through the admin API, ${WORKERS} clients at once: made in ${(manyCreateMs / 1000).toFixed(1)} s (each request: median ${ms(median(createTimes))}, p95 ${ms(p95(createTimes))}), deleted in ${(manyDeleteMs / 1000).toFixed(1)} s (median ${ms(median(deleteTimes))}, p95 ${ms(p95(deleteTimes))}); databases left behind: ${leftover}.`;
}

/** The figures so far, on the log: a long run stopped early still says what it measured. */
function partial(series: ReadonlyMap<string, Series>, when: string): string {
  const lines = [...series.values()].map((s) => `  ${s.operation} | ${s.contender}: median ${median(s.times).toFixed(0)} ms, p95 ${p95(s.times).toFixed(0)} ms, n ${s.times.length}`);
  return [`Figures ${when} (load ${loadText(os.loadavg())}):`, ...lines].join('\n');
}

