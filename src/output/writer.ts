import { createRequire } from 'node:module';
import type TableType from 'cli-table3';
import { AybError } from '../core/errors.js';

export type OutputFormat = 'table' | 'json';

export interface Column<T> {
  readonly header: string;
  readonly get: (row: T) => string | number | undefined | null;
}

/**
 * Where everything a command prints goes: data to stdout, everything else to stderr, so stdout
 * stays machine-clean. With `json`, stdout receives exactly one JSON document.
 */
export class Writer {
  constructor(
    readonly format: OutputFormat,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {}

  get json(): boolean {
    return this.format === 'json';
  }

  /** Whether progress may be drawn: a terminal on stderr, and not in JSON mode. */
  get interactive(): boolean {
    return !this.json && Boolean(this.stderr.isTTY);
  }

  /** A log line on stderr; silent in JSON mode. */
  log(line: string): void {
    if (!this.json) this.stderr.write(line + '\n');
  }

  /** Raw stderr access for progress drawing. */
  progress(text: string): void {
    if (this.interactive) this.stderr.write(text);
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
    this.data(renderTable(rows, columns));
  }

  /** One record: a JSON object, or a two-column key/value table. */
  record<T>(row: T, columns: readonly Column<T>[], toJson: (row: T) => unknown): void {
    if (this.json) {
      this.jsonDocument(toJson(row));
      return;
    }
    const table = newTable({ style: { head: [], border: [] } });
    for (const column of columns) table.push({ [column.header]: cell(column.get(row)) });
    this.data(table.toString());
  }

  error(error: AybError): void {
    if (this.json) {
      const body: Record<string, unknown> = { code: error.code, message: error.message, exit_code: error.exitCode };
      if (error.hint) body.hint = error.hint;
      if (error.details) Object.assign(body, error.details);
      this.jsonDocument({ error: body });
      return;
    }
    this.stderr.write(`Error: ${error.message}\n`);
    if (error.hint) this.stderr.write(`Hint: ${error.hint}\n`);
  }
}

/** cli-table3, loaded on first use: JSON output and errors never need it (a few ms of every start-up). */
let TableClass: typeof TableType | undefined;
function newTable(options: TableType.TableConstructorOptions): TableType.Table {
  TableClass ??= createRequire(import.meta.url)('cli-table3') as typeof TableType;
  return new TableClass(options);
}

function cell(value: string | number | undefined | null): string {
  return value === undefined || value === null || value === '' ? '-' : String(value);
}

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const table = newTable({ head: columns.map((c) => c.header), style: { head: [], border: [] } });
  for (const row of rows) table.push(columns.map((c) => cell(c.get(row))));
  return table.toString();
}

export function formatBytes(bytes: number | undefined): string | undefined {
  if (bytes === undefined) return undefined;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** Whether argv asks for JSON output, for errors raised before (or instead of) flag parsing. */
export function argvWantsJson(argv: readonly string[]): boolean {
  return argv.some((arg, i) => arg === '--json' || arg === '--output=json' || ((arg === '--output' || arg === '-o') && argv[i + 1] === 'json'));
}
