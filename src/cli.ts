/**
 * The CLI in one module: `bin/run.js` runs `execute` from here, and oclif finds the commands and
 * the hook here too (package.json "oclif": the explicit strategy, identifiers COMMANDS and
 * commandNotFound). `npm run build` bundles this module with oclif into dist/ayb.cjs, and each
 * command, with what it imports, into chunks (tools/build/bundle.ts): Node then reads and links a
 * few files instead of a few hundred, which is most of what starting ayb costs.
 *
 * Commands are loaded when they run, not when ayb starts: `ayb --version` or `ayb branch url`
 * does not read, compile and initialise the data diff, the merge, the masking, the server and
 * the MCP server (about 160 ms of CPU of the 300 ms ayb took to start over `node -e 0`, on Node 20,
 * which has no compile cache). oclif gets an object with a `run` that loads the command's class
 * and runs it; help and flags come from oclif.manifest.json, built from the classes themselves
 * (loadAllCommands, tools/build/manifest.ts).
 *
 * A new command is added here; the help test fails until it is.
 */
import { type Command, type Config, settings } from '@oclif/core';

// ayb ships compiled JavaScript. Left on, oclif looks for TypeScript sources to run instead whenever
// NODE_ENV is "development" or "test" (as CI jobs often set it) and loads the TypeScript compiler,
// 9 MB of it, into every command just to read tsconfig.json.
settings.enableAutoTranspile = false;

export { execute } from '@oclif/core';
export { default as commandNotFound } from './hooks/command-not-found.js';

type CommandClass = typeof Command;

const LOADERS: Record<string, () => Promise<{ default: CommandClass }>> = {
  'branch:create': () => import('./commands/branch/create.js'),
  'branch:delete': () => import('./commands/branch/delete.js'),
  'branch:diff': () => import('./commands/branch/diff.js'),
  'branch:expire': () => import('./commands/branch/expire.js'),
  'branch:list': () => import('./commands/branch/list.js'),
  'branch:merge': () => import('./commands/branch/merge.js'),
  'branch:prune': () => import('./commands/branch/prune.js'),
  'branch:rename': () => import('./commands/branch/rename.js'),
  'branch:reset': () => import('./commands/branch/reset.js'),
  'branch:show': () => import('./commands/branch/show.js'),
  'branch:url': () => import('./commands/branch/url.js'),
  history: () => import('./commands/history.js'),
  'history:prune': () => import('./commands/history/prune.js'),
  'mask:check': () => import('./commands/mask/check.js'),
  'mask:init': () => import('./commands/mask/init.js'),
  mcp: () => import('./commands/mcp.js'),
  'snapshot:create': () => import('./commands/snapshot/create.js'),
  'snapshot:delete': () => import('./commands/snapshot/delete.js'),
  'snapshot:list': () => import('./commands/snapshot/list.js'),
  'snapshot:show': () => import('./commands/snapshot/show.js'),
  completion: () => import('./commands/completion.js'),
  help: () => import('./commands/help.js'),
  start: () => import('./commands/start.js'),
  stop: () => import('./commands/stop.js'),
  version: () => import('./commands/version.js'),
};

/** What oclif finds under a command's id: its class, loaded and run when the command runs. */
function lazyCommand(load: () => Promise<{ default: CommandClass }>) {
  return {
    id: undefined as string | undefined,
    plugin: undefined as CommandClass['plugin'],
    async run(this: { id?: string; plugin?: CommandClass['plugin'] }, argv: string[], config: Config): Promise<unknown> {
      const command = (await load()).default;
      command.id = this.id!;
      command.plugin = this.plugin;
      return (command as unknown as { run(argv: string[], config: Config): Promise<unknown> }).run(argv, config);
    },
  };
}

/** The commands by id: stand-ins that load a command's class when it runs. */
export const COMMANDS: Record<string, unknown> = Object.fromEntries(Object.entries(LOADERS).map(([id, load]) => [id, lazyCommand(load)]));

/**
 * For the build's manifest (tools/build/manifest.ts), before oclif reads COMMANDS: the classes themselves in
 * place of the stand-ins, whose flags, arguments and help the manifest holds. (A function, not a top-level
 * await: the bundle is CommonJS, see tools/build/bundle.ts.)
 */
export async function loadAllCommands(): Promise<void> {
  for (const [id, load] of Object.entries(LOADERS)) COMMANDS[id] = (await load()).default;
}
