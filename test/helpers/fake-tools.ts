import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findTool, type ToolName } from '../../src/postgres/tools.js';

/**
 * Stand-ins for pg_dump and psql, written as small shell scripts into a temporary folder that the
 * CLI is pointed at with `[tools] pg_bin_dir` (see `configFile`). Each stand-in either wraps the
 * real tool (logging what it was given, or breaking it in a chosen way) or replaces it.
 */
export type Behaviour =
  /** The real tool, with every call's argv and environment-variable NAMES (never values) logged. */
  | { readonly kind: 'logged' }
  /** `--version` answers with this version; anything else runs the real tool. */
  | { readonly kind: 'version'; readonly version: string }
  /**
   * The real tool, cut short: for pg_dump, only the first `afterBytes` bytes of its output go out;
   * for psql, only the first `afterBytes` bytes of its input go in. Then `stderr` (where
   * `$PGPASSWORD` expands to the password the tool was given) and exit `exitCode`.
   */
  | {
    readonly kind: 'fail-halfway';
    readonly afterBytes: number;
    readonly exitCode: number;
    readonly stderr: string;
    /** After the cut, close its standard input and wait this many seconds before failing. */
    readonly lingerSeconds?: number;
  };

export interface ToolCall {
  readonly tool: ToolName;
  readonly argv: string[];
  readonly envNames: string[];
}

export interface FakeTools {
  readonly dir: string;
  /** An ayb.toml whose `[tools] pg_bin_dir` is `dir`, for `--config`. */
  readonly configFile: string;
  /** The calls the `logged` stand-ins recorded, in the order they started. */
  calls(): Promise<ToolCall[]>;
  /** The raw log, for "the password never appears" checks. */
  rawLog(): Promise<string>;
  remove(): Promise<void>;
}

const realTools = new Map<ToolName, Promise<string>>();

/** The real tool this machine would use for a PostgreSQL 15 server. */
export function realTool(name: ToolName): Promise<string> {
  let found = realTools.get(name);
  if (!found) {
    found = findTool(name, name === 'pg_dump' ? 15 : 0).then((tool) => tool.path);
    realTools.set(name, found);
  }
  return found;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function script(name: ToolName, real: string, logDir: string, behaviour: Behaviour): string {
  // One file per call: pg_dump and psql run at the same time and must not interleave their lines.
  const lines = ['#!/bin/sh', `REAL=${shellQuote(real)}`, `LOG=${shellQuote(logDir)}/$(date +%s%N)-$$-${name}`];
  switch (behaviour.kind) {
    case 'logged':
      lines.push(
        '{',
        `  echo "call ${name}"`,
        '  for a in "$@"; do printf \'arg %s\\n\' "$a"; done',
        // Names only: the values may hold the password, which is the point of passing it there.
        '  awk \'BEGIN { for (k in ENVIRON) print "env " k }\'',
        '} >> "$LOG"',
        'exec "$REAL" "$@"',
      );
      break;
    case 'version':
      lines.push(
        `if [ "$1" = "--version" ]; then echo ${shellQuote(`${name} (PostgreSQL) ${behaviour.version}`)}; exit 0; fi`,
        'exec "$REAL" "$@"',
      );
      break;
    case 'fail-halfway':
      lines.push('if [ "$1" = "--version" ]; then exec "$REAL" "$@"; fi');
      lines.push(
        name === 'pg_dump'
          ? `"$REAL" "$@" | head -c ${behaviour.afterBytes}`
          : `head -c ${behaviour.afterBytes} | "$REAL" "$@"`,
        ...(behaviour.lingerSeconds ? ['exec 0<&-', `sleep ${behaviour.lingerSeconds}`] : []),
        `echo "${behaviour.stderr.replace(/["\\`]/g, '\\$&')}" >&2`,
        `exit ${behaviour.exitCode}`,
      );
      break;
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes a pg_bin_dir with the given stand-ins. A tool given no behaviour is absent from the
 * folder (the "missing binary" case); pass `{ kind: 'logged' }` for a working one.
 */
export async function fakeTools(tools: Partial<Record<ToolName, Behaviour>>): Promise<FakeTools> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ayb-tools-'));
  const dir = path.join(root, 'bin');
  const logDir = path.join(root, 'calls');
  await mkdir(dir);
  await mkdir(logDir);
  for (const [name, behaviour] of Object.entries(tools) as [ToolName, Behaviour][]) {
    const file = path.join(dir, name);
    await writeFile(file, script(name, await realTool(name), logDir, behaviour));
    await chmod(file, 0o755);
  }
  const configFile = path.join(root, 'ayb.toml');
  await writeFile(configFile, `[tools]\npg_bin_dir = ${JSON.stringify(dir)}\n`);
  const rawLog = async () => {
    const files = (await readdir(logDir)).sort();
    return (await Promise.all(files.map((f) => readFile(path.join(logDir, f), 'utf8')))).join('');
  };
  return {
    dir,
    configFile,
    rawLog,
    async calls() {
      const calls: ToolCall[] = [];
      for (const line of (await rawLog()).split('\n')) {
        if (line.startsWith('call ')) calls.push({ tool: line.slice(5) as ToolName, argv: [], envNames: [] });
        else if (line.startsWith('arg ')) calls.at(-1)?.argv.push(line.slice(4));
        else if (line.startsWith('env ')) calls.at(-1)?.envNames.push(line.slice(4));
      }
      return calls;
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
