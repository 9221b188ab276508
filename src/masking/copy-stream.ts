import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import type { Masker, MaskSpec } from './functions.js';
import { type MaskPlan, qualified } from './plan.js';

/**
 * Masks rows in pg_dump's plain output on their way to psql: the lines of each `COPY … FROM stdin;`
 * block of a planned table are rewritten, field by field, before they leave this process, so the
 * original values never reach the target server. Everything else passes through unchanged. The
 * stream works line by line with backpressure, so memory stays flat whatever the size of the dump.
 *
 * pg_dump must write UTF-8 (`--encoding=UTF8`) in UTC, as the in-place path reads values (see
 * MASK_SESSION_SQL), so that both paths hash the same text.
 */
export function maskingStream(plan: MaskPlan, masker: Masker): Transform {
  const byName = new Map(plan.tables.map((t) => [qualified(t), t]));
  const decoder = new StringDecoder('utf8');
  let pending = '';
  /** In a COPY block of a masked table: field index → mask. Null outside, or in a block left as it is. */
  let masks: (MaskSpec | undefined)[] | null = null;
  let inCopy = false;

  const rewriteLine = (line: string): string => {
    if (inCopy) {
      if (line === '\\.') {
        inCopy = false;
        masks = null;
        return line;
      }
      if (!masks) return line;
      const fields = line.split('\t');
      masks.forEach((spec, i) => {
        if (!spec || i >= fields.length) return;
        const raw = fields[i]!;
        const masked = masker.apply(spec, raw === '\\N' ? null : decodeCopyField(raw));
        fields[i] = masked === null ? '\\N' : encodeCopyField(masked);
      });
      return fields.join('\t');
    }
    if (line.startsWith('COPY ') && line.endsWith(' FROM stdin;')) {
      inCopy = true;
      const header = parseCopyHeader(line);
      const table = header ? byName.get(qualified(header)) : undefined;
      if (table && header) {
        const byColumn = new Map(table.columns.map((c) => [c.column, c.mask]));
        masks = header.columns.map((name) => {
          const mask = byColumn.get(name);
          if (mask?.kind === 'sql') throw new Error(`rule for ${qualified(table)}.${name}: an sql rule cannot be applied in the dump stream`);
          return mask;
        });
        if (masks.every((m) => m === undefined)) masks = null;
      }
    }
    return line;
  };

  const process = (text: string): string => {
    const lines = (pending + text).split('\n');
    pending = lines.pop()!;
    return lines.length === 0 ? '' : `${lines.map(rewriteLine).join('\n')}\n`;
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        const out = process(decoder.write(chunk));
        callback(null, out.length > 0 ? out : undefined);
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        const rest = pending + decoder.end();
        pending = '';
        callback(null, rest.length > 0 ? rewriteLine(rest) : undefined);
      } catch (error) {
        callback(error as Error);
      }
    },
  });
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
