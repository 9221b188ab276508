/**
 * The masked-branch benchmark: the synthetic shop dataset (dataset.ts) in a throwaway managed
 * cluster, with masking rules on its people columns (customers.email, customers.full_name), and
 * `ayb branch create` timed four ways: a plain template copy, a template copy masked in place, a
 * plain dump from a URL (another host name for the same server, so ayb treats it as remote), and
 * that dump masked in the stream. Prints the median wall time and the ayb process's peak memory.
 *
 *     npm run build && node dist-tools/tools/bench/mask-bench.js [--size-mb 1000] [--runs 1]
 *
 * A script, not a test: it measures and asserts nothing.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { withClient } from '../../src/postgres/client.js';
import { formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { destroyManagedCluster, ensureManagedCluster } from '../../src/postgres/managed.js';
import { freePort } from '../../src/postgres/ports.js';
import { buildDataset } from './dataset.js';
import { formatMb, formatSeconds, median } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const AYB_BIN = path.resolve(here, '../../..', 'bin', 'run.js');
const RSS_PROBE = pathToFileURL(path.join(here, 'rss-probe.js')).href;

const RULES = `
[[masking.rules]]
table = "customers"
column = "email"
function = "email"

[[masking.rules]]
table = "customers"
column = "full_name"
function = "name"
`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'size-mb': { type: 'string', default: '1000' }, runs: { type: 'string', default: '1' } }, strict: true });
  const sizeMb = Number(values['size-mb']);
  const runs = Number(values.runs);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const root = await mkdtemp(path.join(os.tmpdir(), 'ayb-mask-bench-'));
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  try {
    const cluster = await ensureManagedCluster({ dataDir, port: await freePort(), log });
    const main = withDatabase(cluster.conn, 'bench');
    await withClient(withDatabase(cluster.conn, 'postgres'), (c) => c.query('CREATE DATABASE bench'));
    log(`Building the ${sizeMb} MB dataset …`);
    const size = await withClient(main, (c) => buildDataset(c, sizeMb, log));
    const config = path.join(root, 'ayb.toml');
    await writeFile(config, RULES);
    const url = formatConnInfo(main, { showPassword: true });
    const remote = url.replace('127.0.0.1', 'localhost');
    const env = { ...cleanEnv(), AYB_DATABASE_URL: url, AYB_MASKING_SECRET: 'bench-masking-secret-0123456789' };
    const contenders: { name: string; flags: string[] }[] = [
      { name: 'template', flags: ['--strategy', 'template'] },
      { name: 'template + mask in place', flags: ['--strategy', 'template', '--masked'] },
      { name: 'dump from URL', flags: ['--from', remote] },
      { name: 'dump from URL + mask in stream', flags: ['--from', remote, '--masked'] },
    ];
    const results: { name: string; ms: number[]; rss: number[] }[] = contenders.map((c) => ({ name: c.name, ms: [], rss: [] }));
    for (let run = 0; run < runs; run++) {
      for (const [i, contender] of contenders.entries()) {
        const rssFile = path.join(root, 'rss');
        const started = performance.now();
        const result = await execa('node', [`--import=${RSS_PROBE}`, AYB_BIN, 'branch', 'create', 'b', ...contender.flags, '--json', '--config', config], {
          reject: false,
          env: { ...env, AYB_BENCH_RSS_FILE: rssFile },
        });
        const ms = performance.now() - started;
        if (result.exitCode !== 0) throw new Error(`${contender.name}: ${String(result.stderr)}`);
        results[i]!.ms.push(ms);
        results[i]!.rss.push(Number(await readFile(rssFile, 'utf8')));
        log(`${contender.name}: ${formatSeconds(ms)}`);
        await execa('node', [AYB_BIN, 'branch', 'delete', 'b', '--yes', '--config', config], { env });
        await withClient(withDatabase(cluster.conn, 'postgres'), (c) => c.query('CHECKPOINT'));
      }
    }
    const lines = [
      `Masked branches: dataset ${formatMb(size)}, rules on customers.email and customers.full_name, median of ${runs} run(s)`,
      '',
      '| how | wall time | ayb peak RSS |',
      '|---|---:|---:|',
      ...results.map((r) => `| ${r.name} | ${formatSeconds(median(r.ms))} | ${formatMb(Math.max(...r.rss))} |`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await destroyManagedCluster({ dataDir }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

function cleanEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('AYB_') || key.startsWith('PG')) delete env[key];
  return env;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`mask benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
