import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { enabledState } from './clauses.js';
import { drops, type KindModule, relationOf } from './kind.js';
import { z } from 'zod'
import { objectId, type TriggerDefinition } from '../model.js'
import { reader, text } from './context.js';

const STATES: Record<string, TriggerDefinition['enabled']> = { O: 'origin', D: 'disabled', R: 'replica', A: 'always' };

/** pg_trigger's (pg_rewrite's, pg_event_trigger's) enabled state: `O`, `D`, `R` or `A`. */
export function triggerState(enabled: string): TriggerDefinition['enabled'] {
  return STATES[enabled] ?? 'origin';
}

const triggersReader = reader(
  `
    SELECT t.oid::int8::text AS oid, t.tgrelid::int8::text AS relid, t.tgname, pg_get_triggerdef(t.oid) AS definition, t.tgenabled
      FROM pg_trigger t
     WHERE NOT t.tgisinternal AND t.tgparentid = 0`,
  z.object({ oid: text, relid: text, tgname: text, definition: text, tgenabled: text }),
  (rows, context) => {
    for (const row of rows) {
      const table = context.onTable(row.relid);
      if (!table) continue;
      const { parent } = table;
      const id = objectId('trigger', table.schema, table.name, row.tgname);
      context.own('pg_trigger', row.oid, id);
      context.add({ kind: 'trigger', id, schema: table.schema, table: table.name, parent, name: row.tgname, definition: { definition: row.definition, enabled: triggerState(row.tgenabled) }, dependsOn: [parent] });
    }
  },
);

export const triggerKind: KindModule<'trigger'> = {
  kind: 'trigger',
  read: triggersReader,
  createRank: 22,
  catalog: 'pg_trigger',
  name: (object) => `TRIGGER ${quoteIdent(object.name)} ON ${relationOf(object)}`,
  create: (object) => {
    const state = enabledState(object.definition.enabled, ' TRIGGER');
    return [rx(object.definition.definition), ...(state ? [`ALTER TABLE ${relationOf(object)} ${state} ${quoteIdent(object.name)}`] : [])];
  },
  drop: (object) => drops(`DROP TRIGGER ${quoteIdent(object.name)} ON ${relationOf(object)}`),
};
