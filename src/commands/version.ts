import { Flags } from '@oclif/core';
import { AybCommand } from './base.js';

export default class Version extends AybCommand {
  static override summary = 'Show the version of ayb (also --version and -v)';
  static override description = 'Prints ayb/<version> <platform>-<arch> node-<version>, as --version does; --json prints {"version", "node", "platform", "arch"}.';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  // Only --json: the version needs no database. (Typed as the base's: TypeScript requires a subclass to keep its shape.)
  static override baseFlags = {
    json: Flags.boolean({ description: 'print exactly one JSON document on stdout', helpGroup: 'GLOBAL' }),
  } as unknown as typeof AybCommand.baseFlags;

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
