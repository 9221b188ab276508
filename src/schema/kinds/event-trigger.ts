import { quoteIdent } from '../../postgres/quote.js';
import { enabledState } from './clauses.js';
import { drops, type KindModule } from './kind.js';

export const eventTriggerKind: KindModule<'event_trigger'> = {
  kind: 'event_trigger',
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
