import { AybError } from '../core/errors.js';

export type OutputFormat = 'table' | 'json';

export interface Column<T> {
  readonly header: string;
  readonly get: (row: T) => string | number | undefined | null;
  /** Colour for a cell's value on a terminal (e.g. a status); plain text everywhere else. */
  readonly color?: (value: string) => Color | undefined;
  /** In a record view, left out when empty (an Error line only when there is an error). */
  readonly optional?: boolean;
}

export type Color = 'green' | 'red' | 'yellow' | 'dim' | 'bold' | 'cyan';
const ANSI: Record<Color, [string, string]> = {
  green: ['\x1b[32m', '\x1b[39m'],
  red: ['\x1b[31m', '\x1b[39m'],
  yellow: ['\x1b[33m', '\x1b[39m'],
  cyan: ['\x1b[36m', '\x1b[39m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  bold: ['\x1b[1m', '\x1b[22m'],
};

/**
 * Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org) or TERM is dumb;
 * FORCE_COLOR=1 turns it on anyway (FORCE_COLOR=0 off).
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0';
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export function paint(text: string, color: Color | undefined, enabled: boolean): string {
  if (!enabled || color === undefined || text === '') return text;
  const [open, close] = ANSI[color];
  return open + text + close;
}

/** The colour of a record status: ready green, failed red, creating yellow. */
export function statusColor(status: string): Color | undefined {
  if (status === 'ready') return 'green';
  if (status === 'failed' || status.includes('(')) return 'red'; // `ready (database missing)`
  return status === 'creating' || status === 'deleting' ? 'yellow' : undefined;
}

/**
 * Where everything a command prints goes: data to stdout, everything else to stderr, so stdout
 * stays machine-clean. With `json`, stdout receives exactly one JSON document.
 */
export class Writer {
  constructor(
    readonly format: OutputFormat,
    private readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {}

  /** Whether stdout gets colour (a terminal, no NO_COLOR). */
  get color(): boolean {
    return !this.json && colorEnabled(this.stdout);
  }

  get json(): boolean {
    return this.format === 'json';
  }

  /** Whether progress may be drawn: a terminal on stderr, and not in JSON mode. */
  get interactive(): boolean {
    return !this.json && Boolean(this.stderr.isTTY);
  }

  /** A progress line is drawn and not ended: the next line on stderr clears it first. */
  private progressShown = false;

  /** A log line on stderr; silent in JSON mode. */
  log(line: string): void {
    if (!this.json) this.stderr.write(this.endProgress() + line + '\n');
  }

  /** A line on stderr even in JSON mode: what ayb did on its own, which a script's log should keep. */
  notice(line: string): void {
    this.stderr.write(this.endProgress() + line + '\n');
  }

  /** Raw stderr access for progress drawing. */
  progress(text: string): void {
    if (!this.interactive) return;
    this.stderr.write(text);
    this.progressShown = text !== '' && !text.endsWith('\n') && text !== PROGRESS_CLEAR;
  }

  /** What clears a progress line still shown (so `Error:` never follows `Copying 80 MB …` on its line), else nothing. */
  private endProgress(): string {
    if (!this.progressShown) return '';
    this.progressShown = false;
    return PROGRESS_CLEAR;
  }

  data(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  jsonDocument(value: unknown): void {
    this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** Renders records: a JSON array (`[]` when empty) or a table (`emptyMessage` on stderr when empty). */
  records<T>(rows: readonly T[], columns: readonly Column<T>[], toJson: (row: T) => unknown, emptyMessage: string): void {
    if (this.json) {
      this.jsonDocument(rows.map(toJson));
      return;
    }
    if (rows.length === 0) {
      this.stderr.write(emptyMessage + '\n');
      return;
    }
    this.data(renderTable(rows, columns, this.color));
  }

  /** One record: a JSON object, or one `Key   value` line per field. */
  record<T>(row: T, columns: readonly Column<T>[], toJson: (row: T) => unknown): void {
    if (this.json) {
      this.jsonDocument(toJson(row));
      return;
    }
    this.data(renderRecord(row, columns, this.color));
  }

  error(error: AybError): void {
    if (this.json) {
      const body: Record<string, unknown> = { code: error.code, message: error.message, exit_code: error.exitCode };
      if (error.hint) body.hint = error.hint;
      if (error.details) Object.assign(body, error.details);
      this.jsonDocument({ error: body });
      return;
    }
    const color = colorEnabled(this.stderr);
    this.stderr.write(`${this.endProgress()}${paint('Error:', 'red', color)} ${error.message}\n`);
    if (error.hint) this.stderr.write(`${paint('Hint:', 'yellow', color)} ${error.hint}\n`);
  }
}

function cell(value: string | number | undefined | null): string {
  return value === undefined || value === null || value === '' ? '-' : String(value);
}

/** Display width: one column per code point (names are ASCII; tree lines and arrows are one column each). */
function width(text: string): number {
  return [...text].length;
}

/**
 * A compact table: a header line and one line per row, columns two spaces apart, no rules (as
 * kubectl, gh and docker print them). On a terminal the header is bold and cells may be coloured.
 */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], color = false): string {
  const cells = rows.map((row) => columns.map((c) => cell(c.get(row))));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((r) => width(r[i]!))));
  const line = (values: readonly string[], colorOf: (value: string, i: number) => Color | undefined) =>
    values
      .map((value, i) => {
        const padded = i === values.length - 1 ? value : value + ' '.repeat(widths[i]! - width(value));
        return paint(padded, colorOf(value, i), color);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header), () => 'bold'), ...cells.map((r) => line(r, (value, i) => columns[i]!.color?.(value)))].join('\n');
}

/** One record as `Key   value` lines, keys aligned (dim on a terminal). */
export function renderRecord<T>(row: T, columns: readonly Column<T>[], color = false): string {
  const shown = columns.filter((c) => !c.optional || cell(c.get(row)) !== '-');
  const keyWidth = Math.max(...shown.map((c) => width(c.header)));
  return shown
    .map((c) => {
      const value = cell(c.get(row));
      return `${paint(c.header.padEnd(keyWidth), 'dim', color)}  ${paint(value, c.color?.(value), color)}`;
    })
    .join('\n');
}

// Shared with the dashboard's browser bundle, so it lives in a module without Node: format.ts.
export { formatBytes } from './format.js';

/** Whether argv asks for JSON output, for errors raised before (or instead of) flag parsing. */
export function argvWantsJson(argv: readonly string[]): boolean {
  return argv.some((arg, i) => arg === '--json' || arg === '--output=json' || ((arg === '--output' || arg === '-o') && argv[i + 1] === 'json'));
}

/** Carriage return and erase to the end of the line (as CLEAR_LINE in progress.ts, which imports this module). */
const PROGRESS_CLEAR = '\r\x1b[K';
