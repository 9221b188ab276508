import { describe, expect, it } from 'vitest';
import { buildTree, descendantsDeepestFirst, flattenTree, type TreeItem } from '../../src/branching/tree.js';

const b = (name: string, parent: string | null = null): TreeItem => ({ name, parent });

describe('branch tree', () => {
  const items = [b('dev'), b('review', 'dev'), b('other'), b('fix', 'review'), b('hotfix', 'dev'), b('orphan', 'gone')];

  it('puts children under parents, keeping the input order among siblings', () => {
    const rows = flattenTree(buildTree(items)).map((r) => `${r.prefix}${r.branch.name}`);
    expect(rows).toEqual(['dev', '├─ review', '│  └─ fix', '└─ hotfix', 'other', 'orphan']);
  });

  it('makes a branch whose parent is not listed a root', () => {
    expect(buildTree(items).map((n) => n.branch.name)).toEqual(['dev', 'other', 'orphan']);
  });

  it('shows every branch once even on a hand-made cycle', () => {
    const cycle = [b('a', 'c'), b('b', 'a'), b('c', 'b'), b('self', 'self')];
    const names = flattenTree(buildTree(cycle)).map((r) => r.branch.name);
    expect([...names].sort()).toEqual(['a', 'b', 'c', 'self']);
  });

  it('lists descendants deepest first', () => {
    expect(descendantsDeepestFirst(items, 'dev').map((d) => d.name)).toEqual(['fix', 'review', 'hotfix']);
    expect(descendantsDeepestFirst(items, 'other')).toEqual([]);
    expect(descendantsDeepestFirst([b('a', 'b'), b('b', 'a')], 'a').map((d) => d.name)).toEqual(['b']);
  });
});
