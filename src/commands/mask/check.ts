import { Flags } from '@oclif/core';
import { checkMaskingRules } from '../../branching/mask-check.js';
import { ExitCode } from '../../core/errors.js';
import { renderTable } from '../../output/writer.js';
import { parseSourceRef } from '../../copy/source-ref.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class MaskCheck extends DatabaseCommand {
  static override summary = 'List personal-looking columns that no masking rule covers, and rules that name nothing';
  static override description = `Reads the source's catalog and samples up to 200 rows of each table. A column is reported when its name looks personal (email, phone, first_name, address, birth_date, ssn, ip, password …), its type is inet, cidr or macaddr, or at least half of the sampled values look like emails, phone numbers or IP addresses, and no rule masks it: not directly, nor through a foreign key to a masked column, nor as a partition of a masked table, nor by a trigger that fills it from masked columns. Identity numbers are found by name even where it ends in _id (national_id, tax_id, tax_number, passport, iban …); json and jsonb columns by the keys whose values look like emails or phone numbers; a tsvector beside personal columns because it holds their words. Rules whose table or column does not exist, or whose function cannot apply to the column, are reported too.

It also lists the other columns that can hold text (text, varchar, json, jsonb, xml, tsvector, bytea, arrays and composites of them) that are neither masked nor listed in [masking] keep: a masked copy is refused until every one is one or the other.

Exit 1 when anything is reported, 0 when nothing is: run it in CI so that the column added last month does not slip through.`;
  static override examples = [
    '<%= config.bin %> mask check',
    { description: 'Check a staging database before branching from it', command: 'AYB_SOURCE=postgres://app@staging:5432/app <%= config.bin %> mask check --from "$AYB_SOURCE"' },
    { description: 'In CI, as JSON', command: '<%= config.bin %> mask check --json' },
  ];
  static override flags = {
    from: Flags.string({ description: 'what to check: main, a branch, or a postgres:// URL', default: 'main' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(MaskCheck);
    this.setOutput(flags);
    this.warnPasswordInArgv('--from', flags.from, 'PGPASSWORD');
    const ctx = await this.branchContext(flags);
    const result = await checkMaskingRules(ctx, parseSourceRef(flags.from));
    const failing = result.unmasked.length > 0 || result.problems.length > 0 || result.uncovered.length > 0;
    if (this.writer.json) {
      this.writer.jsonDocument({ source: result.source, ok: !failing, unmasked: result.unmasked, problems: result.problems, uncovered: result.uncovered });
    } else {
      if (result.unmasked.length > 0) {
        this.writer.data(`Columns that look personal and have no masking rule (${result.unmasked.length}):`);
        this.writer.data(renderTable(result.unmasked, [
          { header: 'Column', get: (u) => `${u.table}.${u.column}` },
          { header: 'Type', get: (u) => u.type },
          { header: 'Why', get: (u) => u.reasons.join('; ') },
        ]));
      }
      if (result.problems.length > 0) {
        this.writer.data(`Rules that cannot apply (${result.problems.length}):`);
        this.writer.data(renderTable(result.problems, [
          { header: 'Rule', get: (p) => `${p.table}.${p.column}` },
          { header: 'Function', get: (p) => p.function },
          { header: 'Problem', get: (p) => p.problem },
        ]));
      }
      const personal = new Set(result.unmasked.map((u) => `${u.table}.${u.column}`));
      const rest = result.uncovered.filter((u) => !personal.has(`${u.table}.${u.column}`));
      if (rest.length > 0) {
        this.writer.data(`Other columns that can hold text, neither masked nor kept (${rest.length}); a masked copy is refused until each is one or the other:`);
        this.writer.data(renderTable(rest, [
          { header: 'Column', get: (u) => `${u.table}.${u.column}` },
          { header: 'Type', get: (u) => u.type },
        ]));
      }
      this.writer.log(failing
        ? 'Add [[masking.rules]] for these columns in ayb.toml, or list the ones that are not personal in [masking] keep (ayb mask init writes both), then run this again.'
        : `Every personal-looking column of ${result.source} has a masking rule, and every rule applies.`);
    }
    if (failing) process.exitCode = ExitCode.failure;
  }
}
