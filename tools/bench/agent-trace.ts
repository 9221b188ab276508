/**
 * `node dist-tools/tools/bench/agent-trace.js [--size-mb 20] [--rounds 3]`: where a library create and
 * delete spend their time. On a throwaway managed cluster (fsync on, as the bench has it) with the
 * agent suite's dataset, it runs a warm create and delete through the library a few times and prints,
 * for the last rounds, every connection opened (start, done, how long, which database) and every round
 * trip (session, how long, the statement's start), with milliseconds since the call began; then the
 * bare `CREATE DATABASE … FILE_COPY` / `DROP DATABASE` on an open session, for scale. A script, not a
 * test: it asserts nothing. The load average is printed: on a shared machine it moves every figure.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connect } from '../../src/postgres/client.js';
import { formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { createDatasetDatabase, withBenchCluster } from './cluster.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const LIBRARY = path.join(path.resolve(here, '../../..'), 'dist', 'lib', 'index.js');

type Traced = pg.Client & { __trace?: number };

let origin = performance.now();
let tracing = false;
let sessions = 0;
const lines: string[] = [];
const say = (text: string) => {
  if (tracing) lines.push(`${(performance.now() - origin).toFixed(1).padStart(8)} ms  ${text}`);
};

/** Wraps node-pg's Client (the library's, the same module) to note each connection and round trip. */
function instrument(): void {
  const proto = pg.Client.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const connectOf = proto.connect!;
  const queryOf = proto.query!;
  const endOf = proto.end!;
  proto.connect = function (this: Traced, ...args: unknown[]) {
    const id = (this.__trace = ++sessions);
    const started = performance.now();
    const database = (this as unknown as { database?: string }).database;
    say(`#${id} connect ${database} …`);
    const result = connectOf.apply(this, args) as Promise<void> | undefined;
    result?.then(() => say(`#${id} connected to ${database} in ${(performance.now() - started).toFixed(1)} ms`), () => undefined);
    return result;
  };
  proto.query = function (this: Traced, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    const text = typeof first === 'string' ? first : first?.text ?? '';
    const started = performance.now();
    const result = queryOf.apply(this, args) as Promise<unknown> | undefined;
    result?.then(
      () => say(`#${this.__trace ?? '?'} ${(performance.now() - started).toFixed(1).padStart(6)} ms  ${text.replace(/\s+/g, ' ').slice(0, 110)}`),
      (error: Error) => say(`#${this.__trace ?? '?'} failed: ${error.message}`),
    );
    return result;
  };
  proto.end = function (this: Traced, ...args: unknown[]) {
    say(`#${this.__trace ?? '?'} end`);
    return endOf.apply(this, args);
  };
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

async function main(): Promise<void> {
  const sizeMb = option('--size-mb', 20);
  const rounds = option('--rounds', 3);
  instrument();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await withBenchCluster('ayb-agent-trace-', log, async (cluster) => {
    const { conn: main } = await createDatasetDatabase(cluster, 'app', sizeMb, log);
    const { openAyb } = (await import(LIBRARY)) as typeof import('../../src/lib/index.js');
    const ayb = await openAyb({ databaseUrl: formatConnInfo(main, { showPassword: true }) });
    const admin = await connect(withDatabase(main, 'postgres'));
    try {
      await ayb.create('warm-up');
      await ayb.delete('warm-up');
      process.stdout.write(`load average at the start: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}\n`);
      for (let round = 0; round < rounds; round++) {
        for (const [what, run] of [
          ['library create', () => ayb.create(`t${round}`)],
          ['library delete', () => ayb.delete(`t${round}`)],
          ['bare CREATE DATABASE … FILE_COPY', () => admin.query(`CREATE DATABASE bare${round} TEMPLATE app STRATEGY FILE_COPY`)],
          ['bare DROP DATABASE', () => admin.query(`DROP DATABASE bare${round}`)],
        ] as const) {
          lines.length = 0;
          tracing = true;
          origin = performance.now();
          await run();
          const total = performance.now() - origin;
          // The kept session's reset after the call, off its path, still noted.
          await new Promise((resolve) => setTimeout(resolve, 200));
          tracing = false;
          process.stdout.write(`\n== ${what} (round ${round + 1}): ${total.toFixed(1)} ms\n${lines.join('\n')}\n`);
        }
      }
      process.stdout.write(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}\n`);
    } finally {
      await admin.end().catch(() => undefined);
      await ayb.close();
    }
  });
}

await main();
