import { BaseCommand, jsonFlag } from './command.js';

export default class Version extends BaseCommand {
  static override summary = 'Show the version of ayb (also --version and -v)';
  static override description = 'Prints ayb/<version> <platform>-<arch> node-<version>, as --version does; --json prints {"version", "node", "platform", "arch"}.';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  // Only --json: the version needs no database.
  static override baseFlags = { json: jsonFlag('print exactly one JSON document on stdout') };

  async run(): Promise<void> {
    const { flags } = await this.parse(Version);
    this.setOutput(flags);
    if (this.writer.json) {
      this.writer.jsonDocument({ version: this.config.version, node: process.versions.node, platform: this.config.platform, arch: this.config.arch });
    } else {
      this.writer.data(this.config.userAgent);
    }
  }
}
