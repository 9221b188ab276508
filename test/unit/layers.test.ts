import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importProblem, importsOf, layerProblems } from '../../tools/build/layers.js';
import { REPO_ROOT } from '../helpers/cli.js';

describe('layers under src/', () => {
  it('no module imports from a higher layer, a peer, or oclif outside the commands', () => {
    const src = path.join(REPO_ROOT, 'src');
    const files = new Map<string, string>();
    for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const full = path.join(entry.parentPath, entry.name);
      files.set(path.relative(src, full).split(path.sep).join('/'), readFileSync(full, 'utf8'));
    }
    expect(files.size).toBeGreaterThan(50);
    expect(layerProblems(files)).toEqual([]);
  });

  it('resolves relative imports against src/ and names packages', () => {
    const text = "import { a } from '../postgres/client.js';\nimport type { B } from './names.js';\nimport { Command } from '@oclif/core';\nimport os from 'node:os';\nconst x = await import('../clone/dump.js');";
    expect(importsOf('branching/create.ts', text)).toEqual([
      { from: 'branching/create.ts', to: 'postgres/client.js' },
      { from: 'branching/create.ts', to: 'branching/names.js' },
      { from: 'branching/create.ts', to: '@oclif/core' },
      { from: 'branching/create.ts', to: 'clone/dump.js' },
    ]);
  });

  it('reads side-effect imports, re-exports, import lists holding comments, and not imports in comments or strings', () => {
    const text = [
      "import '../server/side-effect.js';",
      'import {',
      "  a, // main's copy, with an apostrophe",
      '  b,',
      "} from '../output/table.js';",
      "export * from '../commands/base.js';",
      "export { c } from '../hooks/x.js';",
      "// import { old } from '../server/old.js';",
      "/* import { older } from '../server/older.js'; */",
      "const text = `\nimport { fake } from '../server/fake.js';`;",
      "type T = typeof import('../server/types.js');",
    ].join('\n');
    expect(importsOf('branching/create.ts', text).map((edge) => edge.to)).toEqual([
      'server/side-effect.js',
      'output/table.js',
      'commands/base.js',
      'hooks/x.js',
      'server/types.js',
    ]);
  });

  it('catches an upward import, a peer import, oclif in the domain, an adapter past the domain, and an unknown folder', () => {
    expect(importProblem({ from: 'postgres/client.ts', to: 'branching/names.js' })).toMatch(/must not depend on branching/);
    expect(importProblem({ from: 'clone/dump.ts', to: 'schema/model.js' })).toMatch(/peers/);
    expect(importProblem({ from: 'branching/create.ts', to: '@oclif/core' })).toMatch(/only commands and hooks/);
    expect(importProblem({ from: 'server/admin-api.ts', to: 'postgres/client.js' })).toMatch(/calls the domain/);
    expect(importProblem({ from: 'newthing/x.ts', to: 'core/errors.js' })).toMatch(/has no layer/);
    expect(importProblem({ from: 'commands/start.ts', to: 'branching/context.js' })).toBeUndefined();
    expect(importProblem({ from: 'commands/start.ts', to: '@oclif/core' })).toBeUndefined();
  });
});
