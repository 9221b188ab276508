import { accessSync, constants as fsConstants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Command, Flags, type Interfaces } from '@oclif/core';
import { AybError, InterruptedError, UsageError } from '../core/errors.js';
import { closest } from '../core/suggest.js';
import { argvWantsJson, type OutputFormat, Writer } from '../output/writer.js';
import { debugTrace, knownSecrets, scrubError } from '../output/debug.js';

/** `--json`: one JSON document on stdout. A global flag of every command that has a JSON form. */
export const jsonFlag = (description = 'print exactly one JSON document on stdout (same as --output json)') =>
  Flags.boolean({ description, helpGroup: 'GLOBAL' });

/**
 * The shape every command shares: one writer for stdout/stderr, `--json`, interrupts, and one place
 * where errors become a message, a JSON document and an exit code. It needs no database: help,
 * version and completion extend it directly; the commands that work on a database extend
 * DatabaseCommand (base.ts), which adds the database flags. Commands stay thin: parse, call one
 * domain function, render.
 */
export abstract class BaseCommand extends Command {
  /** Output formats the command accepts; the default is table. */
  protected outputFormat: OutputFormat = 'table';
  private writerInstance?: Writer;

  protected get writer(): Writer {
    this.writerInstance ??= new Writer(this.outputFormat);
    return this.writerInstance;
  }

  /** Call from run() after parsing, so errors before parsing still know whether JSON was wanted. */
  protected setOutput(flags: { json?: boolean; output?: string }): void {
    this.outputFormat = flags.json || flags.output === 'json' ? 'json' : 'table';
    this.writerInstance = undefined;
  }

  /**
   * Runs `fn` with an AbortSignal that fires on SIGINT/SIGTERM, so long work can stop its children
   * and clean up before the process exits with 130 (SIGINT) or 143 (SIGTERM).
   */
  protected async interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const handler = (sig: 'SIGINT' | 'SIGTERM') => () => {
      if (controller.signal.aborted) {
        this.writer.log('Still cleaning up; please wait …');
        return;
      }
      this.writer.log(`\nInterrupted (${sig}); stopping and cleaning up …`);
      controller.abort(new InterruptedError(sig, 'run the command again to retry; ayb branch list shows what is there now'));
    };
    const onInt = handler('SIGINT');
    const onTerm = handler('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    try {
      const result = await fn(controller.signal);
      // The domain throws at its checkpoints when aborted; work that got past the last one is done
      // and consistent, so report it as done rather than as interrupted.
      if (controller.signal.aborted) this.writer.log('The work had already finished when the interrupt arrived.');
      return result;
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  }

  /** Every failure ends here: one message (or one JSON document) and the contract's exit code. */
  override async catch(error: Interfaces.CommandError): Promise<void> {
    // oclif's own exit (this.exit) and help/version requests pass through untouched.
    const exitRequest = error as { code?: unknown };
    if (!(error instanceof AybError) && /^EEXIT/.test(String(exitRequest.code ?? ''))) throw error;
    // A password typed into a mistyped flag or a stray argument would be quoted back: masked here.
    const aybError = scrubError(toAybError(error, this.id ?? "", this.ctor), knownSecrets([...process.argv.slice(2), ...this.argv]));
    if (!this.writerInstance && argvWantsJson(this.argv)) this.outputFormat = 'json';
    this.writer.error(aybError);
    if (process.env.AYB_DEBUG && aybError.cause) process.stderr.write(`${debugTrace(aybError.cause, [...process.argv.slice(2), ...this.argv])}\n`);
    process.exitCode = aybError.exitCode;
  }
}

interface CommandShape {
  readonly flags?: Record<string, { char?: string; aliases?: string[] }>;
  readonly baseFlags?: Record<string, { char?: string; aliases?: string[] }>;
}

/** oclif's parse errors (unknown flag, unexpected argument, exclusive flags …) become usage errors with a hint. */
function toAybError(error: unknown, id: string, command: CommandShape = {}): AybError {
  if (error instanceof AybError) return error;
  const err = error as Error & { oclif?: { exit?: number }; parse?: unknown; flags?: string[]; args?: unknown[] };
  const usage = `see: ${['ayb', ...id.split(':').filter(Boolean)].join(' ')} --help`;
  const text = stripAnsi(err?.message ?? '');
  if (err?.oclif?.exit === 2 || err?.parse !== undefined || /Unexpected argument|Missing \d+ required arg|Expected --|Nonexistent flag|is not one of/.test(text)) {
    // oclif lists missing arguments on the lines after "Missing 1 required arg:"; name them in the one line.
    const missing = /Missing \d+ required arg/.test(text) ? (err.args as { name?: string }[] | undefined)?.map((a) => a.name).filter(Boolean) ?? [] : [];
    if (missing.length > 0) {
      return new UsageError(`missing required argument${missing.length === 1 ? '' : 's'}: ${missing.map((n) => `<${n}>`).join(' ')}`, { hint: usage });
    }
    if (/^Nonexistent flags?:/.test(text) && Array.isArray(err.flags)) {
      const known = Object.entries({ ...command.baseFlags, ...command.flags }).flatMap(([name, f]) => [name, ...(f.aliases ?? [])]);
      const unknown = err.flags.map(String);
      const guesses = unknown.map((flag) => closest(flag.replace(/^-+/, '').replace(/=.*$/, ''), known)).filter((g): g is string => g !== undefined);
      return new UsageError(`unknown flag${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')}`, {
        hint: guesses.length > 0 ? `did you mean ${guesses.map((g) => `--${g}`).join(', ')}? (${usage})` : usage,
      }, 'unknown_flag');
    }
    if (/^Unexpected arguments?:/.test(text)) {
      return new UsageError(`unexpected argument${(err.args?.length ?? 0) === 1 ? '' : 's'}: ${(err.args ?? []).map(String).join(' ')}`, { hint: usage }, 'unexpected_argument');
    }
    // "The following errors occurred:" is only a heading: the reasons are on the lines below it
    // (exclusive flags, dependent flags, …). Name them all in the one line.
    const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/^See more help with/.test(line));
    const reasons = /^The following errors? occurred:$/.test(lines[0] ?? '') ? lines.slice(1) : lines;
    const message = [...new Set((reasons.length > 0 ? reasons : lines).map(exclusivePair))].join('; ');
    return new UsageError(message || 'invalid flags or arguments', { hint: usage });
  }
  return new AybError('unexpected', 1, text ? firstLine(text) : String(error), {
    hint: 'this is a bug in ayb if it persists; rerun with AYB_DEBUG=1 for the stack trace',
    cause: error,
  });
}

/** oclif says each clash twice (`--a=x cannot also be provided when using --b`, then b with a): say it once. */
function exclusivePair(reason: string): string {
  const match = /^--([\w-]+)(?:=.*)? cannot also be provided when using --([\w-]+)$/.exec(reason);
  if (!match) return reason;
  const [a, b] = [match[1]!, match[2]!].sort();
  return `--${a} and --${b} cannot be used together`;
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? text;
}

export const outputFlag = (options: readonly string[] = ['table', 'json']) =>
  Flags.string({ char: 'o', description: 'output format', options: [...options], default: 'table' });

/**
 * How to run ayb again from here, for a line the user copies: the command's name when that is on
 * PATH, else the path of the script that is running (`./bin/run.js` in a clone that was not linked,
 * as `npm link` needs root for a system-wide Node).
 */
export function invocation(bin: string, env: NodeJS.ProcessEnv = process.env, script = process.argv[1], cwd = process.cwd()): string {
  const onPath = (env.PATH ?? '').split(path.delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(path.join(dir, bin), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (onPath || !script) return bin;
  const relative = path.relative(cwd, script);
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? script : `./${relative}`;
  return /^[\w./@+-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}

/** Reads a yes/no answer from the terminal; Ctrl-C at the prompt is an interrupt (exit 130), not a "no". */
export async function confirm(question: string): Promise<boolean> {
  // Not import(): the CLI's bundle runs from V8's cached data (bin/run.js), where Node 20 loses import()'s loader.
  const { createInterface } = createRequire(import.meta.url)('node:readline/promises') as typeof import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const interrupted = new Promise<never>((_, reject) => {
      rl.on('SIGINT', () => {
        process.stderr.write('\n');
        reject(new InterruptedError('SIGINT', 'nothing was changed'));
      });
    });
    const answer = await Promise.race([rl.question(`${question} [y/N] `), interrupted]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

