import { kindModule } from './kinds/index.js';
import type { SchemaObject } from './model.js';

/** Constraints of one table are created keys first, foreign keys last. */
const CONSTRAINT_RANK = { primary_key: 0, unique: 1, exclusion: 2, check: 3, foreign_key: 4 } as const;

/**
 * A dependency-first order of `nodes` (depth-first; ties by kind, then name, so the output is
 * stable). A cycle, which pg_depend should never produce, is broken where it is found.
 */
export function topologicalOrder(nodes: readonly string[], depsOf: (id: string) => Iterable<string>, objectOf: (id: string) => SchemaObject): string[] {
  const rank = (id: string): [number, number, string] => {
    const object = objectOf(id);
    const sub = object.kind === 'constraint' ? CONSTRAINT_RANK[object.definition.constraint_type] : 0;
    return [kindModule(object.kind).createRank, sub, id];
  };
  const ranks = new Map(nodes.map((id) => [id, rank(id)]));
  const compare = (x: string, y: string) => {
    const [a1, a2, a3] = ranks.get(x)!;
    const [b1, b2, b3] = ranks.get(y)!;
    return a1 - b1 || a2 - b2 || (a3 < b3 ? -1 : a3 > b3 ? 1 : 0);
  };
  const state = new Map<string, 'visiting' | 'done'>();
  const out: string[] = [];
  const visit = (id: string) => {
    if (state.has(id)) return;
    state.set(id, 'visiting');
    for (const dep of [...depsOf(id)].filter((dep) => ranks.has(dep) && dep !== id).sort(compare)) visit(dep);
    state.set(id, 'done');
    out.push(id);
  };
  for (const id of [...nodes].sort(compare)) visit(id);
  return out;
}

