import { quoteIdent } from '../../postgres/quote.js';
import { enabledState } from './clauses.js';
import { drops, type KindModule, relationOf } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { reader, text } from './context.js'
import { triggerState } from './trigger.js';

/** Rewrite rules on tables (a view's own _RETURN rule is the view). */
const rulesReader = reader(
  `
    SELECT r.oid::int8::text AS oid, r.ev_class::int8::text AS relid, r.rulename, pg_get_ruledef(r.oid) AS definition, r.ev_enabled
      FROM pg_rewrite r
     WHERE r.rulename <> '_RETURN'`,
  z.object({ oid: text, relid: text, rulename: text, definition: text, ev_enabled: text }),
  (rows, context) => {
    for (const row of rows) {
      const table = context.onTable(row.relid);
      if (!table || context.isMember('pg_rewrite', row.oid)) continue;
      const { parent } = table;
      const id = objectId('rule', table.schema, table.name, row.rulename);
      context.own('pg_rewrite', row.oid, id);
      context.add({
        kind: 'rule',
        id,
        schema: table.schema,
        table: table.name,
        parent,
        name: row.rulename,
        definition: { definition: row.definition.trim().replace(/;$/, ''), enabled: triggerState(row.ev_enabled) },
        dependsOn: [parent],
      });
    }
  },
);

export const ruleKind: KindModule<'rule'> = {
  kind: 'rule',
  read: rulesReader,
  createRank: 23,
  catalog: 'pg_rewrite',
  name: (object) => `RULE ${quoteIdent(object.name)} ON ${relationOf(object)}`,
  create: (object) => {
    const state = enabledState(object.definition.enabled, ' RULE');
    return [object.definition.definition, ...(state ? [`ALTER TABLE ${relationOf(object)} ${state} ${quoteIdent(object.name)}`] : [])];
  },
  drop: (object) => drops(`DROP RULE ${quoteIdent(object.name)} ON ${relationOf(object)}`),
};
