import { Args, loadHelpClass } from '@oclif/core';
import { notFoundError } from '../output/command-not-found.js';
import { AybCommand } from './base.js';

export default class Help extends AybCommand {
  static override summary = 'Show help for ayb or for one command';
  static override description = 'The same as --help (or -h) after a command.';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help branch create'];
  static override strict = false;
  // No global flags: help needs no database. (Typed as the base's: TypeScript requires a subclass to keep its shape.)
  static override baseFlags = {} as unknown as typeof AybCommand.baseFlags;
  static override args = { command: Args.string({ description: 'a command or topic, e.g. branch create' }) };

  async run(): Promise<void> {
    const { argv } = await this.parse(Help);
    const words = (argv as string[]).filter((word) => !word.startsWith('-'));
    const id = words.join(':');
    if (id !== '' && !this.config.findCommand(id) && !this.config.findTopic(id)) throw notFoundError(words, this.config.commandIDs, this.config.bin);
    const HelpClass = await loadHelpClass(this.config);
    await new HelpClass(this.config).showHelp(words);
  }
}
