import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { expect } from 'vitest';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO_ROOT, 'bin', 'run.js');

export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (throws if it is not exactly one JSON document). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read fields of the parsed JSON without declaring its shape
  json<T = any>(): T;
}

export interface CliOptions {
  /** Extra environment; AYB_* and PG* variables of the test process are not inherited. */
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly input?: string;
  readonly timeout?: number;
  /** Start in a process group of its own, so a test can signal the group as Ctrl-C does. */
  readonly detached?: boolean;
}

function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('AYB_') || key.startsWith('PG')) env[key] = undefined;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/**
 * Opt-in measure of what the CLI calls cost: with AYB_TEST_CLI_LOG=<file> in the test process, each
 * CLI process appends a line of JSON to <file> on exit (test file, argv[0..1], exit code, its own CPU
 * and wall time; test/helpers/cli-cpu-preload.mjs). Off, the command line is exactly `node bin/run.js`.
 * Sum it with `node tools/suite/cli-cost.mjs <file>`.
 */
function costLog(args: readonly string[]): { nodeArgs: string[]; env: Record<string, string> } {
  const file = process.env.AYB_TEST_CLI_LOG;
  if (!file) return { nodeArgs: [], env: {} };
  const testPath = expect.getState().testPath ?? '';
  const tag = { file: path.relative(REPO_ROOT, testPath), command: args.slice(0, 2).join(' ') };
  return {
    nodeArgs: ['--import', pathToFileURL(path.join(REPO_ROOT, 'test', 'helpers', 'cli-cpu-preload.mjs')).href],
    env: { AYB_TEST_CLI_LOG_FILE: path.resolve(file), AYB_TEST_CLI_LOG_TAG: JSON.stringify(tag) },
  };
}

/** Starts the built CLI (`bin/run.js`, compiled from src/ by `npm run build`) as a user would. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): ResultPromise<{ reject: false }> {
  const cost = costLog(args);
  return execa('node', [...cost.nodeArgs, BIN, ...args], {
    reject: false,
    env: { ...cleanEnv(options.env), ...cost.env },
    extendEnv: true,
    cwd: options.cwd ?? REPO_ROOT,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    timeout: options.timeout ?? 120_000,
    detached: options.detached,
  }) as unknown as ResultPromise<{ reject: false }>;
}

export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await spawnCli(args, options);
  const stdout = String(result.stdout ?? '');
  return {
    exitCode: result.exitCode ?? -1,
    stdout,
    stderr: String(result.stderr ?? ''),
    json: () => JSON.parse(stdout),
  };
}
