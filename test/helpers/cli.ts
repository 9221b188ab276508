import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

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

/** Starts the built CLI (`bin/run.js`, compiled from src/ by `npm run build`) as a user would. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): ResultPromise<{ reject: false }> {
  return execa('node', [BIN, ...args], {
    reject: false,
    env: cleanEnv(options.env),
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
