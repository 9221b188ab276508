import { UsageError } from '../core/errors.js';
import type { RuleProblem } from './plan.js';

/** Every rule that cannot apply, in one error (exit 2): the config is what must change. */
export function rulesError(problems: readonly RuleProblem[]): UsageError {
  const list = problems.map((p) => `${p.table}.${p.column} (${p.function}): ${p.problem}`);
  return new UsageError(`${problems.length} masking rule${problems.length === 1 ? '' : 's'} cannot apply: ${list.join('; ')}`, {
    hint: 'fix [[masking.rules]] in ayb.toml; ayb mask check lists what the rules miss',
    details: { problems },
  }, 'invalid_masking_rules');
}
