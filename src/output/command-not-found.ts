import { UsageError } from '../core/errors.js';
import { closest } from '../core/suggest.js';

/**
 * The error for words that name no command (the command_not_found hook and `ayb help <words>`):
 * - a known command followed by words it does not take (`ayb branch list extra`): "unexpected argument";
 * - a typo (`ayb brnch list`, `ayb branch lst`): "did you mean: ayb branch list?".
 */
export function notFoundError(words: readonly string[], commandIds: readonly string[], bin = 'ayb'): UsageError {
  const typed = words.join(' ');
  const known = commandIds.map((id) => id.split(':').join(' ')).sort();
  // The longest known command the words start with: the rest are arguments it does not take.
  for (let n = words.length - 1; n > 0; n--) {
    const command = words.slice(0, n).join(' ');
    if (known.includes(command)) {
      const extra = words.slice(n);
      return new UsageError(`unexpected argument${extra.length === 1 ? '' : 's'}: ${extra.join(' ')}`, {
        hint: `"${bin} ${command}" takes no ${extra.length === 1 ? 'such ' : ''}argument${extra.length === 1 ? '' : 's'}; see: ${bin} ${command} --help`,
      }, 'unexpected_argument');
    }
  }
  const topics = [...new Set(known.map((id) => id.split(' ')[0]!))];
  // A typo in the topic, the command, or both: compare with every command of the same length in words.
  const guess = closest(typed, known.filter((id) => id.split(' ').length === words.length))
    ?? (words.length === 1 ? closest(typed, topics) : undefined);
  const topic = words[0]!;
  const nearby = known.filter((id) => id.startsWith(`${topic} `));
  const hint = guess !== undefined
    ? `did you mean: ${bin} ${guess}?`
    : nearby.length > 0 ? `${topic} commands: ${nearby.join(', ')}` : `see ${bin} help for the list of commands`;
  return new UsageError(`"${typed}" is not an ${bin} command`, { hint }, 'command_not_found');
}

