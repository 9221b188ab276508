import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import type { Masker } from './functions.js';
import { type MaskPlan, type PlannedColumn, qualified } from './plan.js';

/**
 * Masks the fields of one COPY row in place, by the column planned for each field (none: left as
 * it is). An `sql` column cannot be masked here: `defer` is given it and true is returned, so the
 * row waits for the chunk's query (see SqlEvaluator).
 */
function maskFields(fields: string[], slots: readonly (PlannedColumn | undefined)[], masker: Masker, defer: (index: number, column: PlannedColumn) => void): boolean {
  let waits = false;
  slots.forEach((column, i) => {
    if (!column || i >= fields.length) return;
    if (column.mask.kind === 'sql') {
      defer(i, column);
      waits = true;
      return;
    }
    if (column.mask.kind === 'derived') {
      // Filled by its trigger from the masked values once the rows are in (recomputeDerived).
      fields[i] = column.mask.empty === null ? '\\N' : encodeCopyField(column.mask.empty);
      return;
    }
    const raw = fields[i]!;
    const masked = masker.apply(column.mask, raw === '\\N' ? null : decodeCopyField(raw));
    fields[i] = masked === null ? '\\N' : encodeCopyField(masked);
  });
  return waits;
}

/**
 * Masks rows in pg_dump's plain output on their way to psql: the lines of each `COPY … FROM stdin;`
 * block of a planned table are rewritten, field by field, before they leave this process, so the
 * original values never reach the target server. Everything else passes through unchanged. The
 * stream works line by line with backpressure, so memory stays flat whatever the size of the dump.
 *
 * pg_dump must write UTF-8 (`--encoding=UTF8`) in UTC, as the in-place path reads values (see
 * MASK_SESSION_SQL), so that both paths hash the same text.
 */
export function maskingStream(plan: MaskPlan, masker: Masker, sql?: SqlEvaluator): Transform {
  const byName = new Map(plan.tables.map((t) => [qualified(t), t]));
  const decoder = new StringDecoder('utf8');
  let pending = '';
  /** In a COPY block of a masked table: field index → column. Null outside, or in a block left as it is. */
  let slots: (PlannedColumn | undefined)[] | null = null;
  let table = '';
  let inCopy = false;
  /** Fields of `sql` columns, masked per chunk in one query per column (see SqlEvaluator). */
  let deferred: { fields: string[]; index: number; column: PlannedColumn; table: string }[] = [];

  /** A line, or the fields of a row that waits for its `sql` columns. */
  const rewriteLine = (line: string): string | string[] => {
    if (inCopy) {
      if (line === '\\.') {
        inCopy = false;
        slots = null;
        return line;
      }
      if (!slots) return line;
      const fields = line.split('\t');
      const waits = maskFields(fields, slots, masker, (index, column) => deferred.push({ fields, index, column, table }));
      return waits ? fields : fields.join('\t');
    }
    if (line.startsWith('COPY ') && line.endsWith(' FROM stdin;')) {
      inCopy = true;
      const header = parseCopyHeader(line);
      const planned = header ? byName.get(qualified(header)) : undefined;
      if (planned && header) {
        const byColumn = new Map(planned.columns.map((c) => [c.column, c]));
        slots = header.columns.map((name) => byColumn.get(name));
        table = planned.table;
        if (slots.every((c) => c === undefined)) slots = null;
        if (!sql && slots?.some((c) => c?.mask.kind === 'sql')) throw new Error(`${qualified(planned)}: an sql rule needs a connection to evaluate it`);
      }
    }
    return line;
  };

  const resolveDeferred = async (): Promise<void> => {
    const work = deferred;
    deferred = [];
    const groups = new Map<PlannedColumn, typeof work>();
    for (const item of work) groups.set(item.column, [...(groups.get(item.column) ?? []), item]);
    for (const [column, items] of groups) {
      const values = items.map((w) => (w.fields[w.index] === '\\N' ? null : decodeCopyField(w.fields[w.index]!)));
      const results = await sql!.evaluate(items[0]!.table, column, values);
      items.forEach((w, k) => {
        const result = results[k];
        w.fields[w.index] = result === null || result === undefined ? '\\N' : encodeCopyField(result);
      });
    }
  };

  /**
   * Rewrites the complete lines of `text` and returns them with what is left (a partial line). Runs of
   * lines that cannot matter (outside COPY blocks of masked tables, up to the next header or end of
   * block) are found with indexOf and passed on whole, so most of a dump is never split into lines.
   */
  const rewrite = async (text: string, final: boolean): Promise<{ out: string; rest: string }> => {
    const pieces: (string | string[])[] = [];
    let pos = 0;
    while (pos < text.length) {
      if (slots === null) {
        const marker = inCopy ? '\\.' : 'COPY ';
        const found = text.startsWith(marker, pos) ? pos : text.indexOf(`\n${marker}`, pos);
        const start = found === pos ? pos : found < 0 ? -1 : found + 1;
        if (start < 0) {
          const last = text.lastIndexOf('\n');
          if (last >= pos) {
            pieces.push(text.slice(pos, last + 1));
            pos = last + 1;
          }
          break;
        }
        if (start > pos) {
          pieces.push(text.slice(pos, start));
          pos = start;
        }
      }
      const end = text.indexOf('\n', pos);
      if (end < 0) break;
      const line = rewriteLine(text.slice(pos, end));
      pieces.push(typeof line === 'string' ? `${line}\n` : line);
      pos = end + 1;
    }
    let rest = text.slice(pos);
    if (final && rest.length > 0) {
      pieces.push(rewriteLine(rest));
      rest = '';
    }
    if (deferred.length > 0) await resolveDeferred();
    const out = pieces.map((p) => (typeof p === 'string' ? p : `${p.join('\t')}\n`)).join('');
    return { out, rest };
  };

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      rewrite(pending + decoder.write(chunk), false).then(({ out, rest }) => {
        pending = rest;
        callback(null, out.length > 0 ? out : undefined);
      }, (error: unknown) => callback(error as Error));
    },
    flush(callback: TransformCallback) {
      const text = pending + decoder.end();
      pending = '';
      rewrite(text, true).then(({ out }) => callback(null, out.length > 0 ? out : undefined), (error: unknown) => callback(error as Error));
    },
  });
  stream.once('close', () => void sql?.close());
  return stream;
}

/**
 * Evaluates `sql` rules for the stream, on the source's server (where the originals already are),
 * a batch of values at a time: the expression sees the column under its own name, as in place.
 */
export interface SqlEvaluator {
  evaluate(table: string, column: PlannedColumn, values: readonly (string | null)[]): Promise<(string | null)[]>;
  close(): Promise<void>;
}

/** `COPY public."Odd name" (id, "Email") FROM stdin;` → schema, table, columns (unquoted). */
export function parseCopyHeader(line: string): { schema: string; table: string; columns: string[] } | undefined {
  let i = 'COPY '.length;
  const ident = (): string | undefined => {
    if (line[i] === '"') {
      let out = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            out += '"';
            i += 2;
            continue;
          }
          i++;
          return out;
        }
        out += line[i++];
      }
      return undefined;
    }
    const match = /^[^\s.,()"]+/.exec(line.slice(i));
    if (!match) return undefined;
    i += match[0].length;
    return match[0];
  };
  const schema = ident();
  if (schema === undefined || line[i] !== '.') return undefined;
  i++;
  const table = ident();
  if (table === undefined) return undefined;
  const columns: string[] = [];
  if (line.startsWith(' (', i)) {
    i += 2;
    for (;;) {
      const column = ident();
      if (column === undefined) return undefined;
      columns.push(column);
      if (line.startsWith(', ', i)) i += 2;
      else if (line[i] === ')') break;
      else return undefined;
    }
  }
  return { schema, table, columns };
}

const DECODE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** COPY text format: a field's escapes undone. */
export function decodeCopyField(raw: string): string {
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, esc: string) => {
    if (esc[0] === 'x' && esc.length > 1) return String.fromCharCode(parseInt(esc.slice(1), 16));
    if (/^[0-7]/.test(esc)) return String.fromCharCode(parseInt(esc, 8));
    return DECODE[esc] ?? esc;
  });
}

/** COPY text format: backslash, tab, newline and the other control escapes COPY TO writes. */
export function encodeCopyField(value: string): string {
  return value.replace(/[\\\b\f\n\r\t\v]/g, (c) => {
    switch (c) {
      case '\\': return '\\\\';
      case '\b': return '\\b';
      case '\f': return '\\f';
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
      default: return '\\v';
    }
  });
}
