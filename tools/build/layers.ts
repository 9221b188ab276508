import ts from 'typescript';

/**
 * The layers of src/, lowest first. A module may import from its own folder and from folders of a
 * lower rank, never from a higher rank or from another folder of the same rank: peers (clone and
 * schema, say) stay independent, so either can change without the other. `npm run build` runs
 * check-layers.js, which fails on the first upward import, and test/unit/layers.test.ts pins the rule.
 */
export const LAYERS: Readonly<Record<string, number>> = {
  core: 0, // errors and exit codes, durations, records and constants shared by everyone
  postgres: 1, // connections, quoting, locks, the managed cluster, finding pg_dump/psql
  config: 2, // ayb.toml: schema, reading, resolving the main database's URL
  clone: 3, // how bytes move: template, pg_dump | psql
  schema: 3, // catalog snapshot, schema diff, migration SQL
  history: 3, // WAL archive and base backups of the managed PostgreSQL, restores to a moment
  datadiff: 3, // row checksums, data diff, DML that makes one database's rows equal another's
  pooler: 3, // the PgBouncer `ayb start --pooler` runs: config, start, PAUSE/RESUME of a database
  masking: 3, // masking rules: the functions (SQL and TypeScript), in-place masking, the dump-stream rewriter, mask check
  copy: 3.5, // the source of a copy (SourceRef), parsed once where it comes in; below the domain, which takes it as a value
  branching: 4, // the domain: create, delete, reset, rename, expire, prune, list
  output: 5, // tables and JSON for the terminal
  lib: 5.5, // the library entry (`import { openAyb } from 'ayb'`): the domain, in-process, with the CLI's JSON
  server: 6, // HTTP: admin API, dashboard, the `ayb start` lifecycle
  mcp: 6, // `ayb mcp`: the library's calls as MCP tools over stdio
  commands: 7, // oclif commands: parse, call the domain, render
  hooks: 7,
  'cli.ts': 8,
};

/** Packages only the command line may load: the domain never imports oclif. */
const CLI_ONLY_PACKAGES: readonly string[] = ['@oclif/core'];
const CLI_RANK = LAYERS.commands!;

/** Adapters (HTTP, commands) call the domain; they never reach past it to connections or copies. */
const ADAPTERS: readonly string[] = ['server', 'commands', 'hooks', 'lib', 'mcp'];
const BEHIND_THE_DOMAIN: readonly string[] = ['postgres', 'clone'];

export interface ImportEdge {
  /** The importing file, relative to src/ (`branching/create.ts`). */
  readonly from: string;
  /** A relative import resolved against src/ (`postgres/client.js`), or a package name. */
  readonly to: string;
}

/** The top folder of a path under src/ (`cli.ts` for the entry file). */
export function layerOf(file: string): string {
  return file.split('/')[0]!;
}

/** What is wrong with one import, or undefined when it is allowed. */
export function importProblem(edge: ImportEdge): string | undefined {
  const from = layerOf(edge.from);
  const fromRank = LAYERS[from];
  if (fromRank === undefined) return `${edge.from}: src/${from} has no layer; add it to LAYERS in tools/build/layers.ts`;
  if (!edge.to.endsWith('.js')) {
    const pkg = edge.to;
    if (CLI_ONLY_PACKAGES.some((p) => pkg === p || pkg.startsWith(`${p}/`)) && fromRank < CLI_RANK) {
      return `${edge.from} imports ${pkg}, which only commands and hooks may use`;
    }
    return undefined;
  }
  const to = layerOf(edge.to);
  if (to === from) return undefined;
  const toRank = LAYERS[to];
  if (toRank === undefined) return `${edge.from} imports ${edge.to}, outside src/`;
  if (toRank > fromRank) return `${edge.from} imports ${edge.to}: ${from} (layer ${fromRank}) must not depend on ${to} (layer ${toRank})`;
  if (toRank === fromRank) return `${edge.from} imports ${edge.to}: ${from} and ${to} are peers (layer ${toRank}) and stay independent`;
  if (ADAPTERS.includes(from) && BEHIND_THE_DOMAIN.includes(to)) return `${edge.from} imports ${edge.to}: ${from} calls the domain (branching) instead of ${to}`;
  return undefined;
}

/**
 * The module specifiers one source file names, read by the TypeScript parser (not a pattern): every
 * `import … from`, side-effect `import '…'`, `export … from`, `import x = require('…')`, dynamic
 * `import('…')` and type `import('…')`; nothing in comments or strings.
 */
export function moduleSpecifiers(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      specs.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteralLike(argument)) specs.push(argument.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specs.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs;
}

/** The imports of one source file: relative ones resolved against src/, packages as named. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const dir = file.split('/').slice(0, -1);
  for (const spec of moduleSpecifiers(file, text)) {
    if (spec.startsWith('node:')) continue;
    if (!spec.startsWith('.')) {
      edges.push({ from: file, to: spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/') });
      continue;
    }
    const parts = [...dir];
    for (const piece of spec.split('/')) {
      if (piece === '.') continue;
      if (piece === '..') parts.pop();
      else parts.push(piece);
    }
    edges.push({ from: file, to: parts.join('/') });
  }
  return edges;
}

export function layerProblems(files: ReadonlyMap<string, string>): string[] {
  return [...files].flatMap(([file, text]) => importsOf(file, text).map(importProblem).filter((p): p is string => p !== undefined));
}
