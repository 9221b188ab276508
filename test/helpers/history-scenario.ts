import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { type CliResult, runCli } from './cli.js';
import { startTestCluster, type TestCluster } from './cluster.js';

/**
 * The set-up the history tests share: a private cluster (archiving reconfigures and restarts the
 * server), a work folder the cluster's OS user can pass through (0755) holding ayb.toml, and
 * `ayb history` run once per entry of `dirs`, each time with `[history] dir` set to it, so the
 * history begins in the first folder and every change of folder is one ayb noticed. Starting a
 * private cluster with archiving and a base backup is the slow part of these files: a file's cases
 * should share one scenario (one `beforeAll`) wherever their states allow.
 */
export interface HistoryScenario {
  readonly cluster: TestCluster;
  /** The folder ayb runs in (its ayb.toml); `[history] dir` is relative to it. */
  readonly work: string;
  /** `ayb <args>` run in the work folder. */
  cli(...args: string[]): Promise<CliResult>;
  /** Writes ayb.toml: the managed cluster, history enabled in `dir`, and `extra` lines of [history]. */
  toml(dir: string, extra?: string): Promise<void>;
  /** Inserts row `n` into `marks`, stamped with the server's clock (written_at). */
  write(n: number): Promise<void>;
  /** The moment row `n` of `marks` was written, as the server's clock said (UTC, microseconds). */
  writtenAt(n: number): Promise<string>;
  /** The server's clock now, in UTC with microseconds: a moment to branch at. */
  now(): Promise<string>;
  stop(): Promise<void>;
}

export interface HistoryScenarioOptions {
  /** Prefix of the work folder's name (under the run's temporary folder). */
  readonly name: string;
  /** `[history] dir` of each `ayb history` run in turn (default: one run, in "history"). */
  readonly dirs?: readonly string[];
  /**
   * Creates table `marks (id, written_at)` first, and writes row i after the i-th run of
   * `ayb history` (so with dirs history, elsewhere, history, row 2 is written while the WAL goes
   * to "elsewhere": in the gap of "history").
   */
  readonly marks?: boolean;
}

const UTC_MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

export async function startHistoryScenario(options: HistoryScenarioOptions): Promise<HistoryScenario> {
  const cluster = await startTestCluster({ private: true });
  let work: string | undefined;
  const stop = async () => {
    await cluster.stop();
    if (work) await rm(work, { recursive: true, force: true });
  };
  try {
    work = await mkdtemp(path.join(os.tmpdir(), `ayb-${options.name}-`));
    await chmod(work, 0o755);
    const folder = work;
    const scenario: HistoryScenario = {
      cluster,
      work: folder,
      cli: (...args) => runCli(args, { cwd: folder, timeout: 300_000 }),
      toml: (dir, extra = '') =>
        writeFile(
          path.join(folder, 'ayb.toml'),
          `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "${dir}"\n${extra}`,
        ),
      write: async (n) => {
        await cluster.query('INSERT INTO marks VALUES ($1, clock_timestamp())', [n]);
      },
      writtenAt: async (n) =>
        (await cluster.query<{ t: string }>(`SELECT to_char(written_at AT TIME ZONE 'UTC', ${UTC_MICROS}) AS t FROM marks WHERE id = $1`, [n])).rows[0]!.t,
      now: async () => (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', ${UTC_MICROS}) AS t`)).rows[0]!.t,
      stop,
    };
    if (options.marks) await cluster.query('CREATE TABLE marks (id int PRIMARY KEY, written_at timestamptz NOT NULL)');
    let n = 0;
    for (const dir of options.dirs ?? ['history']) {
      await scenario.toml(dir);
      const ran = await scenario.cli('history');
      expect(ran.exitCode, ran.stderr).toBe(0);
      if (options.marks) await scenario.write(++n);
    }
    return scenario;
  } catch (error) {
    await stop();
    throw error;
  }
}
