/**
 * Branches of branches: `create x --from y` records `y` as the parent of `x`. These helpers turn the
 * flat list of records into a forest. A branch whose parent is not in the list (made from main or a
 * URL, or whose parent row is gone) is a root, so every branch appears exactly once, even if the
 * records were edited into a cycle by hand.
 */
export interface TreeItem {
  readonly name: string;
  readonly parent: string | null;
}

export interface TreeNode<T extends TreeItem> {
  readonly branch: T;
  readonly children: TreeNode<T>[];
}

/** The forest, keeping the input's order (oldest first) among siblings. */
export function buildTree<T extends TreeItem>(items: readonly T[]): TreeNode<T>[] {
  const nodes = new Map(items.map((branch) => [branch.name, { branch, children: [] as TreeNode<T>[] }]));
  const roots: TreeNode<T>[] = [];
  const placed = new Set<string>();
  const attach = (node: TreeNode<T>) => {
    placed.add(node.branch.name);
    for (const child of items) {
      if (child.parent === node.branch.name && !placed.has(child.name)) {
        const childNode = nodes.get(child.name)!;
        node.children.push(childNode);
        attach(childNode);
      }
    }
  };
  for (const item of items) {
    if (item.parent === null || !nodes.has(item.parent) || item.parent === item.name) {
      const node = nodes.get(item.name)!;
      roots.push(node);
      attach(node);
    }
  }
  // Whatever is left sits on a cycle; break it at its oldest member.
  for (const item of items) {
    if (!placed.has(item.name)) {
      const node = nodes.get(item.name)!;
      roots.push(node);
      attach(node);
    }
  }
  return roots;
}

/** Every descendant of `name`, deepest first (the order in which they can be deleted). */
export function descendantsDeepestFirst<T extends TreeItem>(items: readonly T[], name: string): T[] {
  const out: T[] = [];
  const seen = new Set<string>([name]);
  const visit = (parent: string) => {
    for (const child of items) {
      if (child.parent === parent && !seen.has(child.name)) {
        seen.add(child.name);
        visit(child.name);
        out.push(child);
      }
    }
  };
  visit(name);
  return out;
}

/** Depth-first rows with the prefix that draws the tree in a table (`├─ `, `│  └─ `). */
export function flattenTree<T extends TreeItem>(roots: readonly TreeNode<T>[]): { branch: T; prefix: string; depth: number }[] {
  const out: { branch: T; prefix: string; depth: number }[] = [];
  const walk = (nodes: readonly TreeNode<T>[], indent: string, depth: number) => {
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1;
      out.push({ branch: node.branch, prefix: depth === 0 ? '' : indent + (last ? '└─ ' : '├─ '), depth });
      walk(node.children, depth === 0 ? '' : indent + (last ? '   ' : '│  '), depth + 1);
    });
  };
  walk(roots, '', 0);
  return out;
}
