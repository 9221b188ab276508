import { quoteIdent } from '../../postgres/quote.js';
import { enabledState } from './clauses.js';
import { drops, type KindModule, relationOf } from './kind.js';

export const ruleKind: KindModule<'rule'> = {
  kind: 'rule',
  createRank: 23,
  catalog: 'pg_rewrite',
  name: (object) => `RULE ${quoteIdent(object.name)} ON ${relationOf(object)}`,
  create: (object) => {
    const state = enabledState(object.definition.enabled, ' RULE');
    return [object.definition.definition, ...(state ? [`ALTER TABLE ${relationOf(object)} ${state} ${quoteIdent(object.name)}`] : [])];
  },
  drop: (object) => drops(`DROP RULE ${quoteIdent(object.name)} ON ${relationOf(object)}`),
};
