import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { enabledState } from './clauses.js';
import { drops, type KindModule, relationOf } from './kind.js';

export const triggerKind: KindModule<'trigger'> = {
  kind: 'trigger',
  createRank: 22,
  catalog: 'pg_trigger',
  name: (object) => `TRIGGER ${quoteIdent(object.name)} ON ${relationOf(object)}`,
  create: (object) => {
    const state = enabledState(object.definition.enabled, ' TRIGGER');
    return [rx(object.definition.definition), ...(state ? [`ALTER TABLE ${relationOf(object)} ${state} ${quoteIdent(object.name)}`] : [])];
  },
  drop: (object) => drops(`DROP TRIGGER ${quoteIdent(object.name)} ON ${relationOf(object)}`),
};
