import type { Hook } from '@oclif/core';
import { notFoundError } from '../output/command-not-found.js';
import { knownSecrets, scrubError } from '../output/debug.js';
import { argvWantsJson, Writer } from '../output/writer.js';

/**
 * An unknown command is a usage error like any other: exit 2, a hint, and with --json exactly one
 * JSON document on stdout (oclif's default prints plain text only); see notFoundError for the message.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':');
  const ids = options.config.commandIDs;
  // A password among the stray words (a URL given where no argument is taken) is masked.
  const error = scrubError(notFoundError(words, ids, options.config.bin), knownSecrets([...process.argv.slice(2), ...(options.argv ?? [])]));
  new Writer(argvWantsJson(options.argv ?? []) ? 'json' : 'table').error(error);
  process.exitCode = error.exitCode;
  return true;
};

export default hook;
