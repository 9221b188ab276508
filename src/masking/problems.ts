import { UsageError } from '../core/errors.js';
import type { RuleProblem, UncoveredColumn } from './plan.js';

/** Every rule that cannot apply, in one error (exit 2): the config is what must change. */
export function rulesError(problems: readonly RuleProblem[]): UsageError {
  const list = problems.map((p) => `${p.table}.${p.column} (${p.function}): ${p.problem}`);
  return new UsageError(`${problems.length} masking rule${problems.length === 1 ? '' : 's'} cannot apply: ${list.join('; ')}`, {
    hint: 'fix [[masking.rules]] in ayb.toml; ayb mask check lists what the rules miss',
    details: { problems },
  }, 'invalid_masking_rules');
}

/**
 * Columns that can carry text and that no rule masks nor `keep` lists: a masked copy is refused
 * before anything is copied (exit 2), with the list.
 */
export function coverageError(columns: readonly UncoveredColumn[]): UsageError {
  const shown = columns.slice(0, 40).map((c) => `${c.table}.${c.column} (${c.type})`).join(', ');
  const more = columns.length > 40 ? ` and ${columns.length - 40} more` : '';
  return new UsageError(`a masked copy needs every column that can hold text masked or kept, and ${columns.length} ${columns.length === 1 ? 'is' : 'are'} neither: ${shown}${more}`, {
    hint: 'give each a [[masking.rules]] entry, or list it in [masking] keep ("table.column", or "table.*" for the rest of a table); ayb mask init writes a starting set',
    details: { uncovered: columns },
  }, 'masking_uncovered');
}
