import { quoteIdent } from '../../postgres/quote.js';
import { enabledState } from './clauses.js';
import { drops, type KindModule } from './kind.js';
import { z } from 'zod'
import { quoteLiteral } from '../../postgres/quote.js'
import { objectId } from '../model.js'
import { maybeTexts, reader, text } from './context.js'
import { triggerState } from './trigger.js';

const eventTriggersReader = reader(
  `
    SELECT e.oid::int8::text AS oid, e.evtname, e.evtevent, e.evtfoid::regproc::text AS func, e.evtenabled, e.evttags
      FROM pg_event_trigger e`,
  z.object({ oid: text, evtname: text, evtevent: text, func: text, evtenabled: text, evttags: maybeTexts }),
  (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_event_trigger', row.oid)) continue;
      const name = row.evtname;
      const id = objectId('event_trigger', name);
      context.own('pg_event_trigger', row.oid, id);
      const tags = row.evttags ?? [];
      const when = tags.length > 0 ? ` WHEN TAG IN (${tags.map(quoteLiteral).join(', ')})` : '';
      context.add({
        kind: 'event_trigger',
        id,
        schema: '',
        name,
        definition: { definition: `CREATE EVENT TRIGGER ${quoteIdent(name)} ON ${row.evtevent}${when} EXECUTE FUNCTION ${row.func}()`, enabled: triggerState(row.evtenabled) },
        dependsOn: [],
      });
    }
  },
);

export const eventTriggerKind: KindModule<'event_trigger'> = {
  kind: 'event_trigger',
  read: eventTriggersReader,
  createRank: 25,
  catalog: 'pg_event_trigger',
  owned: true,
  name: (object) => `EVENT TRIGGER ${quoteIdent(object.name)}`,
  create: (object) => {
    const state = enabledState(object.definition.enabled, '');
    return [object.definition.definition, ...(state ? [`ALTER EVENT TRIGGER ${quoteIdent(object.name)} ${state}`] : [])];
  },
  drop: (object) => drops(`DROP EVENT TRIGGER ${quoteIdent(object.name)}`),
};
