import { Args, Flags, loadHelpClass } from '@oclif/core';
import { notFoundError } from '../output/command-not-found.js';
import { argvWantsJson } from '../output/writer.js';
import { BaseCommand } from './command.js';

export default class Help extends BaseCommand {
  static override summary = 'Show help for ayb or for one command';
  static override description = 'The same as --help (or -h) after a command.';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help branch create', { description: 'Every command and its summary, as JSON', command: '<%= config.bin %> help --json' }];
  static override strict = false;
  static override args = { command: Args.string({ description: 'a command or topic, e.g. branch create' }) };
  static override flags = { json: Flags.boolean({ description: 'the commands (or the one asked for) with their summaries, flags and arguments, as one JSON document' }) };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Help);
    // --json works here as everywhere: the commands (or the one asked for) as one document.
    if (flags.json || argvWantsJson(argv as string[])) this.setOutput({ json: true });
    const words = (argv as string[]).filter((word) => !word.startsWith('-') && word !== 'json');
    const id = words.join(':');
    if (id !== '' && !this.config.findCommand(id) && !this.config.findTopic(id)) throw notFoundError(words, this.config.commandIDs, this.config.bin);
    if (this.writer.json) {
      const visible = this.config.commands.filter((c) => !c.hidden && (id === '' || c.id === id || c.id.startsWith(`${id}:`)));
      this.writer.jsonDocument({
        commands: visible.map((c) => ({
          command: c.id.split(':').join(' '),
          summary: c.summary ?? c.description?.split('\n')[0] ?? '',
          ...(c.id === id ? {
            description: c.description ?? '',
            args: Object.values(c.args).map((a) => ({ name: a.name, description: a.description ?? '', required: a.required === true })),
            flags: Object.entries(c.flags).filter(([, f]) => !f.hidden).map(([name, f]) => ({ name: `--${name}`, ...(f.char ? { char: `-${f.char}` } : {}), description: f.description ?? '' })),
          } : {}),
        })),
      });
      return;
    }
    const HelpClass = await loadHelpClass(this.config);
    await new HelpClass(this.config).showHelp(words);
  }
}
