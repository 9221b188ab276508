import { quoteLiteral } from '../../postgres/quote.js';
import type { ObjectOf } from '../model.js';
import { drops, type KindModule, plain } from './kind.js';

const create = (object: ObjectOf<'comment'>): string[] => [`COMMENT ON ${object.target} IS ${quoteLiteral(object.definition.text)}`];

/** A comment: an object of its own that hangs on the object it describes. */
export const commentKind: KindModule<'comment'> = {
  kind: 'comment',
  createRank: 27,
  name: () => undefined,
  create,
  changeMode: () => 'alter',
  alter: (_from, to) => create(to).map(plain),
  drop: (object) => drops(`COMMENT ON ${object.target} IS NULL`),
};
