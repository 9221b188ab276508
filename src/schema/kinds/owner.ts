import { quoteIdent } from '../../postgres/quote.js';
import type { ObjectOf } from '../model.js';
import { type KindModule, plain } from './kind.js';

const create = (object: ObjectOf<'owner'>): string[] => [`ALTER ${object.target} OWNER TO ${quoteIdent(object.definition.role)}`];

/** The owner of an object (with `--owners`). */
export const ownerKind: KindModule<'owner'> = {
  kind: 'owner',
  createRank: 28,
  name: () => undefined,
  create,
  changeMode: () => 'alter',
  alter: (_from, to) => create(to).map(plain),
  // Goes with its object, and an object always has an owner: nothing to undo on its own.
  drop: () => [],
};
