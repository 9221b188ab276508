import type { Hook } from '@oclif/core';
import { UsageError } from '../core/errors.js';
import { argvWantsJson, Writer } from '../output/writer.js';

/**
 * An unknown command is a usage error like any other: exit 2, a hint, and with --json exactly one
 * JSON document on stdout (oclif's default prints plain text only).
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const typed = options.id.split(':').join(' ');
  const known = options.config.commandIDs.map((id) => id.split(':').join(' ')).sort();
  const topic = typed.split(' ')[0]!;
  const nearby = known.filter((id) => id.startsWith(`${topic} `));
  const error = new UsageError(`"${typed}" is not an ayb command`, {
    hint: nearby.length > 0 ? `${topic} commands: ${nearby.join(', ')}` : 'see ayb --help for the list of commands',
  }, 'command_not_found');
  new Writer(argvWantsJson(options.argv ?? []) ? 'json' : 'table').error(error);
  process.exitCode = error.exitCode;
  return true;
};

export default hook;
