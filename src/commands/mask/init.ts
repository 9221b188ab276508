import { writeFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { maskInitText } from '../../branching/mask-init.js';
import { ConflictError } from '../../core/errors.js';
import { parseSourceRef } from '../../copy/source-ref.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class MaskInit extends DatabaseCommand {
  static override summary = 'Write a starting [masking] section: rules for what looks personal, keep for the rest';
  static override description = `Reads the source's catalog and samples its rows as ayb mask check does, then writes TOML: a [[masking.rules]] entry for every column that looks personal (a function chosen to fit the column: email, phone, first_name, last_name, name, address, hash, redact, date_shift, json_keys, null), each commented with why, and a [masking] keep list of every other column that can hold text, each commented with its type. Columns a trigger fills from masked ones (a tsvector of names) need no line: they are recomputed. A personal-looking column no function fits is written as a TODO comment, and a masked copy is refused until it has a rule or is kept.

It is a starting point, to read line by line: a column whose name and values look impersonal is kept, whatever it holds. Prints to stdout, or writes --file (never over an existing file).`;
  static override examples = [
    '<%= config.bin %> mask init',
    { description: 'Write the section to a file, then add it to ayb.toml', command: '<%= config.bin %> mask init --file masking.toml && cat masking.toml >> ayb.toml' },
    { description: 'From a staging database', command: 'AYB_SOURCE=postgres://app@staging:5432/app <%= config.bin %> mask init --from "$AYB_SOURCE"' },
  ];
  static override flags = {
    from: Flags.string({ description: 'what to read: main, a branch, or a postgres:// URL', default: 'main' }),
    file: Flags.string({ description: 'write the TOML to this file (refused if it exists) instead of stdout' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(MaskInit);
    this.setOutput(flags);
    this.warnPasswordInArgv('--from', flags.from, 'PGPASSWORD');
    const ctx = await this.branchContext(flags);
    const result = await maskInitText(ctx, parseSourceRef(flags.from));
    if (flags.file !== undefined) {
      await writeFile(flags.file, result.text, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') throw new ConflictError('file_exists', `${flags.file} exists already; mask init never overwrites a file`, { hint: 'pick another --file, or move the old one away' });
        throw error;
      });
    }
    if (this.writer.json) {
      this.writer.jsonDocument({ source: result.source, rules: result.rules, keep: result.keep, undecided: result.undecided, file: flags.file ?? null, toml: result.text });
      return;
    }
    if (flags.file === undefined) this.writer.data(result.text.trimEnd());
    this.writer.log(`${result.rules} rule(s) and ${result.keep} kept column(s) from ${result.source}${flags.file ? `, written to ${flags.file}` : ''}${result.undecided > 0 ? `; ${result.undecided} column(s) to decide by hand (TODO lines)` : ''}. Review every line before a masked copy.`);
  }
}
