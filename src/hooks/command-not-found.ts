import type { Hook } from '@oclif/core';
import { notFoundError } from '../output/command-not-found.js';
import { argvWantsJson, Writer } from '../output/writer.js';

/**
 * An unknown command is a usage error like any other: exit 2, a hint, and with --json exactly one
 * JSON document on stdout (oclif's default prints plain text only); see notFoundError for the message.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':');
  const ids = options.config.commandIDs;
  const error = notFoundError(words, ids, options.config.bin);
  new Writer(argvWantsJson(options.argv ?? []) ? 'json' : 'table').error(error);
  process.exitCode = error.exitCode;
  return true;
};

export default hook;
