/**
 * `npm run bench -- --suite agent`: branches at agent speed. On a throwaway managed cluster with a
 * small dataset, times, interleaved round by round on the same cluster:
 *
 *   - bare:    `CREATE DATABASE b TEMPLATE app STRATEGY FILE_COPY` / `DROP DATABASE b` on an open
 *              session (what the server itself costs; nothing ayb does can be faster);
 *   - library: `ayb.create(b)` / `ayb.url(b)` / `ayb.delete(b)` in this process (lib/index.ts: the
 *              records, locks and recovery of every command, no process);
 *   - CLI:     `ayb branch create b --json` / `ayb branch url b` / `ayb branch delete b --yes --json`,
 *              a process each (start-up included);
 *   - API:     `POST /api/admin/branches` / `DELETE /api/admin/branches/b` of a running `ayb start`
 *              (a process started once, as a dashboard or an agent's harness would), over HTTP;
 *   - start-up: `node -e 0` and `ayb --version`;
 *   - busy parent (item 4): through a second `ayb start --pooler`, a branch made from a branch a
 *              client is connected to through the pooler (idle between transactions), against the
 *              same from an idle branch, and (a few times) from a branch the client is connected to
 *              straight, without the pooler (a dump);
 *   - many:    N branches (default 500) made from a snapshot, listed through the library, the CLI
 *              and the admin API (without sizes, the default, and with them), then deleted.
 *
 * The machine's load average is printed with the figures: on a shared machine it moves them a lot.
 *
 * Each figure: median and p95 over `--agent-ops` operations (default 30), and the median over the
 * bare statement's median. A script, not a test: it asserts nothing.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { type Client, connect } from '../../src/postgres/client.js';
import { formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { cleanEnv, createDatasetDatabase, withBenchCluster } from './cluster.js';
import { AYB_BIN, inWorkers, loadText, p95, startAdminApi, timed } from './ayb-process.js';
import { median } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Compiled to dist-tools/tools/bench/agent-bench.js.
const REPO_ROOT = path.resolve(here, '../../..');
/** The library as a program imports it: the package's built entry (package.json `exports`). */
const LIBRARY = path.join(REPO_ROOT, 'dist', 'lib', 'index.js');

export interface AgentBenchOptions {
  readonly ops: number;
  readonly many: number;
  readonly sizeMb: number;
}

interface Series {
  readonly operation: string;
  readonly contender: string;
  readonly times: number[];
}

/** Runs the suite and returns its Markdown section. */
export async function agentSuite(options: AgentBenchOptions, log: (line: string) => void): Promise<string> {
  return withBenchCluster('ayb-bench-agent-', log, async (cluster) => {
    const { conn: main, bytes } = await createDatasetDatabase(cluster, 'app', options.sizeMb, log);
    const url = formatConnInfo(main, { showPassword: true });
    const env = cleanEnv({ AYB_DATABASE_URL: url, NO_COLOR: '1' });
    const cli = async (...args: string[]) => {
      const result = await execa('node', [AYB_BIN, ...args], { env, reject: false, stdin: 'ignore' });
      if (result.exitCode !== 0) throw new Error(`ayb ${args.join(' ')} failed (exit ${result.exitCode}): ${String(result.stderr).slice(0, 400)}`);
      return String(result.stdout);
    };
    const { openAyb } = (await import(LIBRARY)) as typeof import('../../src/lib/index.js');
    const ayb = await openAyb({ databaseUrl: url });
    const admin: Client = await connect(withDatabase(main, 'postgres'));
    const api = await startAdminApi(env);
    const pooled = await startAdminApi(env, ['--pooler']);
    const series = new Map<string, Series>();
    const record = (operation: string, contender: string, ms: number) => {
      const key = `${operation}\u0000${contender}`;
      if (!series.has(key)) series.set(key, { operation, contender, times: [] });
      series.get(key)!.times.push(ms);
    };
    try {
      // Warm-up: the control table made, recovery done, caches warm, for every contender alike.
      await ayb.create('warm-up');
      await cli('branch', 'delete', 'warm-up', '--yes', '--json');
      log(`Timing create / url / delete, ${options.ops} of each per contender, interleaved …`);
      const loadBefore = os.loadavg();
      const contenders = ['bare', 'library', 'API', 'CLI'] as const;
      // A create that found main busy (a dump) is said at the end, not a failure of the whole run.
      const fallbacks: string[] = [];
      for (let round = 0; round < options.ops; round++) {
        const order = round % 2 === 0 ? contenders : [...contenders].reverse();
        for (const who of order) {
          const name = `${who === 'CLI' ? 'c' : who === 'library' ? 'l' : who === 'API' ? 'a' : 'b'}-${round}`;
          const database = who === 'bare' ? `bare_${round}` : `ayb_branch_${name.replace(/-/g, '_')}`;
          if (who === 'bare') {
            record('create', who, await timed(() => admin.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE ${quoteIdent(main.database)} STRATEGY FILE_COPY`)));
            record('delete', who, await timed(() => admin.query(`DROP DATABASE ${quoteIdent(database)}`)));
          } else if (who === 'library') {
            record('create', who, await timed(async () => {
              const made = await ayb.create(name);
              if (made.strategy !== 'template') fallbacks.push(`library ${name}: ${made.strategy}`);
            }));
            record('url', who, await timed(() => ayb.url(name)));
            record('delete', who, await timed(() => ayb.delete(name)));
          } else if (who === 'API') {
            record('create', who, await timed(async () => {
              const made = (await api.call('POST', '/api/admin/branches', { name })) as { strategy: string };
              if (made.strategy !== 'template') fallbacks.push(`API ${name}: ${made.strategy}`);
            }));
            record('url', who, await timed(() => api.call('GET', `/api/admin/branches/${name}/url`)));
            record('delete', who, await timed(() => api.call('DELETE', `/api/admin/branches/${name}`)));
          } else {
            record('create', who, await timed(async () => {
              const made = JSON.parse(await cli('branch', 'create', name, '--json')) as { strategy: string };
              if (made.strategy !== 'template') fallbacks.push(`CLI ${name}: ${made.strategy}`);
            }));
            record('url', who, await timed(() => cli('branch', 'url', name)));
            record('delete', who, await timed(() => cli('branch', 'delete', name, '--yes', '--json')));
          }
        }
        if ((round + 1) % 10 === 0) log(`  ${round + 1}/${options.ops} rounds`);
      }
      log(partial(series, 'after the timed rounds'));
      if (fallbacks.length > 0) log(`Creates that were not template copies: ${fallbacks.join(', ')}`);
      for (let i = 0; i < options.ops; i++) {
        record('start-up', 'node -e 0', await timed(() => execa('node', ['-e', '0'], { stdin: 'ignore' })));
        record('start-up', 'ayb --version', await timed(() => cli('--version')));
      }

      log('Busy parent: creates through ayb start --pooler from a branch a client holds a connection to …');
      await pooled.call('POST', '/api/admin/branches', { name: 'busy-parent' });
      await pooled.call('POST', '/api/admin/branches', { name: 'idle-parent' });
      const { url: busyUrl } = (await pooled.call('GET', '/api/admin/branches/busy-parent/url')) as { url: string };
      const agent = await connect({ ...withDatabase(main, 'ayb_branch_busy_parent'), host: new URL(busyUrl).hostname, port: Number(new URL(busyUrl).port), params: { sslmode: 'disable', application_name: 'bench-agent' } });
      await agent.query('SELECT 1');
      for (let i = 0; i < options.ops; i++) {
        for (const [who, parent] of i % 2 === 0 ? [['busy, pooler', 'busy-parent'], ['idle', 'idle-parent']] : [['idle', 'idle-parent'], ['busy, pooler', 'busy-parent']]) {
          const name = `${who === 'idle' ? 'i' : 'p'}-${i}`;
          record('create from a branch', `API ${who}`, await timed(async () => {
            const made = (await pooled.call('POST', '/api/admin/branches', { name, from: parent })) as { strategy: string };
            if (made.strategy !== 'template') throw new Error(`create from ${parent}: ${made.strategy}, not template`);
          }));
          await pooled.call('DELETE', `/api/admin/branches/${name}`);
        }
      }
      await agent.query('SELECT 1'); // the client's connection survived every pause
      await agent.end();
      // An agent's own connection (not named `ayb`: ayb's own sessions on a source are let leave before a copy).
      const direct = await connect({ ...withDatabase(main, 'ayb_branch_busy_parent'), params: { application_name: 'bench-agent' } });
      for (let i = 0; i < Math.min(5, options.ops); i++) {
        record('create from a branch', 'API busy, no pooler (dump)', await timed(() => api.call('POST', '/api/admin/branches', { name: `d-${i}`, from: 'busy-parent' })));
        await api.call('DELETE', `/api/admin/branches/d-${i}`);
      }
      await direct.end();
      await pooled.call('DELETE', '/api/admin/branches/busy-parent');
      await pooled.call('DELETE', '/api/admin/branches/idle-parent');

      log(partial(series, 'after the timed rounds, start-up and the busy parent'));
      log(`Making ${options.many} branches from a snapshot, ${WORKERS} workers at once …`);
      await ayb.snapshot('many-seed');
      const manyStarted = performance.now();
      await inWorkers(options.many, WORKERS, (i) => ayb.create(`m-${i}`, { from: 'many-seed' }));
      const manyCreateMs = performance.now() - manyStarted;
      for (let i = 0; i < options.ops; i++) {
        record(`list of ${options.many}`, 'library', await timed(() => ayb.list()));
        record(`list of ${options.many}`, 'CLI --json', await timed(() => cli('branch', 'list', '--json')));
        record(`list of ${options.many}`, 'API', await timed(() => api.call('GET', '/api/admin/branches')));
      }
      // With sizes (opt-in: a scan of every database's files), a few times only: it is slow by nature.
      for (let i = 0; i < Math.min(5, options.ops); i++) {
        record(`list of ${options.many}, sizes`, 'library', await timed(() => ayb.list({ sizes: true })));
        record(`list of ${options.many}, sizes`, 'API', await timed(() => api.call('GET', '/api/admin/branches?sizes=true')));
      }
      const loadAfter = os.loadavg();
      log(partial(series, 'after the lists'));
      const deleteStarted = performance.now();
      await inWorkers(options.many, WORKERS, (i) => ayb.delete(`m-${i}`));
      const manyDeleteMs = performance.now() - deleteStarted;
      await ayb.deleteSnapshot('many-seed');

      const bare = (operation: string) => median(series.get(`${operation}\u0000bare`)?.times ?? []);
      const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)} ms` : '—');
      const rows = [...series.values()].map((s) => {
        const base = bare(s.operation);
        const over = s.contender === 'bare' || !Number.isFinite(base) ? '—' : `+${(median(s.times) - base).toFixed(0)} ms`;
        return `| ${s.operation} | ${s.contender} | ${ms(median(s.times))} | ${ms(p95(s.times))} | ${s.times.length} | ${over} |`;
      });
      return [
        `### Branches at agent speed: dataset ${(bytes / 1024 / 1024).toFixed(0)} MB, ${options.ops} operations per figure, interleaved`,
        '',
        `Load average (1, 5, 15 min) on ${os.cpus().length} cores: ${loadText(loadBefore)} at the start of the timed rounds, ${loadText(loadAfter)} after the lists.`,
        '',
        '| operation | contender | median | p95 | n | median over bare |',
        '| --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `${options.many} branches from a snapshot through the library, ${WORKERS} workers at once: made in ${(manyCreateMs / 1000).toFixed(1)} s (${(manyCreateMs / options.many).toFixed(0)} ms each), deleted in ${(manyDeleteMs / 1000).toFixed(1)} s (${(manyDeleteMs / options.many).toFixed(0)} ms each).`,
      ].join('\n');
    } finally {
      await admin.end().catch(() => undefined);
      await api.stop();
      await pooled.stop();
    }
  });
}

/** Workers at once for the many branches: the control table and the locks under concurrent creates and deletes. */
const WORKERS = 8;

/** The figures so far, on the log: a long run stopped early still says what it measured. */
function partial(series: ReadonlyMap<string, Series>, when: string): string {
  const lines = [...series.values()].map((s) => `  ${s.operation} | ${s.contender}: median ${median(s.times).toFixed(0)} ms, p95 ${p95(s.times).toFixed(0)} ms, n ${s.times.length}`);
  return [`Figures ${when} (load ${loadText(os.loadavg())}):`, ...lines].join('\n');
}

