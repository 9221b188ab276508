import { z } from 'zod';
import type { SequenceOptions } from '../model.js';
import { maybeText } from './context.js';

/** The pg_sequence columns a sequence, or an identity column's sequence, is read with (null: no sequence). */
export const SequenceOptionsRow = z.object({
  seqstart: maybeText,
  seqincrement: maybeText,
  seqmin: maybeText,
  seqmax: maybeText,
  seqcache: maybeText,
  seqcycle: z.boolean().nullable(),
});

export function sequenceOptions(row: z.infer<typeof SequenceOptionsRow>): SequenceOptions {
  return {
    start: row.seqstart ?? '',
    increment: row.seqincrement ?? '',
    min_value: row.seqmin ?? '',
    max_value: row.seqmax ?? '',
    cache: row.seqcache ?? '',
    cycle: row.seqcycle === true,
  };
}
