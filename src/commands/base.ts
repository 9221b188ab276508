import { Command, Flags, type Interfaces } from '@oclif/core';
import { openContext, type OpenedContext } from '../branching/context.js';
import { loadConfig, type LoadedConfig } from '../config/resolve.js';
import { AybError, InterruptedError, UsageError } from '../core/errors.js';
import { type OutputFormat, Writer } from '../output/writer.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof AybCommand)['baseFlags'] & T['flags']>;

/**
 * The shared shape of every command: the global flags, config and database resolution, one writer
 * for stdout/stderr, and one place where errors become a message, a JSON document and an exit code.
 * Commands stay thin: parse, call one domain function, render.
 */
export abstract class AybCommand extends Command {
  static override baseFlags = {
    'database-url': Flags.string({
      description: 'main database (postgres:// URL or key=value); prefer AYB_DATABASE_URL to keep passwords out of argv',
      helpGroup: 'GLOBAL',
    }),
    config: Flags.string({ description: 'config file [default: ./ayb.toml]', helpGroup: 'GLOBAL' }),
    json: Flags.boolean({ description: 'print exactly one JSON document on stdout (same as --output json)', helpGroup: 'GLOBAL' }),
  };

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

  protected async loadConfig(flags: { config?: string; 'database-url'?: string }): Promise<LoadedConfig> {
    return loadConfig({ configPath: flags.config, databaseUrl: flags['database-url'] });
  }

  /** The main database (starting the managed PostgreSQL if that is the one) and the config, for the domain. */
  protected async branchContext(flags: { config?: string; 'database-url'?: string }, loaded?: LoadedConfig): Promise<OpenedContext> {
    return openContext(loaded ?? (await this.loadConfig(flags)), (line) => this.writer.log(line));
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
    const aybError = toAybError(error);
    if (!this.writerInstance && wantsJson(this.argv)) this.outputFormat = 'json';
    this.writer.error(aybError);
    if (process.env.AYB_DEBUG && aybError.cause) process.stderr.write(`${(aybError.cause as Error).stack ?? aybError.cause}\n`);
    process.exitCode = aybError.exitCode;
  }
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.some((arg, i) => arg === '--json' || arg === '--output=json' || (arg === '--output' && argv[i + 1] === 'json'));
}

function toAybError(error: unknown): AybError {
  if (error instanceof AybError) return error;
  const err = error as Error & { oclif?: { exit?: number }; parse?: unknown };
  // oclif parser errors (unknown flag, missing argument, bad option value) are usage errors.
  if (err?.oclif?.exit === 2 || err?.parse !== undefined || /Unexpected argument|Missing \d+ required arg|Expected --|Nonexistent flag|is not one of/.test(err?.message ?? '')) {
    // oclif lists missing arguments on the lines after "Missing 1 required arg:"; name them in the one line.
    const missing = (err as { args?: { name?: string }[] }).args?.map((a) => a.name).filter(Boolean) ?? [];
    const message = missing.length > 0
      ? `missing required argument${missing.length === 1 ? '' : 's'}: ${missing.map((n) => `<${n}>`).join(' ')}`
      : firstLine(err.message);
    return new UsageError(message, { hint: 'see --help for usage and examples' });
  }
  return new AybError('unexpected', 1, err?.message ? firstLine(err.message) : String(error), {
    hint: 'this is a bug in ayb if it persists; rerun with AYB_DEBUG=1 for the stack trace',
    cause: error,
  });
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? text;
}

export const outputFlag = (options: readonly string[] = ['table', 'json']) =>
  Flags.string({ char: 'o', description: 'output format', options: [...options], default: 'table' });

/** Reads a yes/no answer from the terminal. */
export async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
