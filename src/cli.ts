/**
 * The CLI in one module: `bin/run.js` runs `execute` from here, and oclif finds the commands and
 * the hook here too (package.json "oclif": the explicit strategy, identifiers COMMANDS and
 * commandNotFound). `npm run build` bundles this module and everything it imports, oclif, pg and
 * zod included, into dist/ayb.js (tools/build/bundle.ts): Node then reads and links one file instead
 * of a few hundred, which is most of what starting ayb costs.
 *
 * A new command is added here; the help test fails until it is.
 */
import BranchCreate from './commands/branch/create.js';
import BranchDelete from './commands/branch/delete.js';
import BranchDiff from './commands/branch/diff.js';
import BranchExpire from './commands/branch/expire.js';
import BranchList from './commands/branch/list.js';
import BranchMerge from './commands/branch/merge.js';
import BranchPrune from './commands/branch/prune.js';
import BranchRename from './commands/branch/rename.js';
import BranchReset from './commands/branch/reset.js';
import BranchShow from './commands/branch/show.js';
import BranchUrl from './commands/branch/url.js';
import History from './commands/history.js';
import HistoryPrune from './commands/history/prune.js';
import MaskCheck from './commands/mask/check.js';
import MaskInit from './commands/mask/init.js';
import Mcp from './commands/mcp.js';
import SnapshotCreate from './commands/snapshot/create.js';
import SnapshotDelete from './commands/snapshot/delete.js';
import SnapshotList from './commands/snapshot/list.js';
import SnapshotShow from './commands/snapshot/show.js';
import Completion from './commands/completion.js';
import Help from './commands/help.js';
import Start from './commands/start.js';
import Stop from './commands/stop.js';
import Version from './commands/version.js';
import { settings } from '@oclif/core';

// ayb ships compiled JavaScript. Left on, oclif looks for TypeScript sources to run instead whenever
// NODE_ENV is "development" or "test" (as CI jobs often set it) and loads the TypeScript compiler,
// 9 MB of it, into every command just to read tsconfig.json.
settings.enableAutoTranspile = false;

export { execute } from '@oclif/core';
export { default as commandNotFound } from './hooks/command-not-found.js';

export const COMMANDS = {
  'branch:create': BranchCreate,
  'branch:delete': BranchDelete,
  'branch:diff': BranchDiff,
  'branch:expire': BranchExpire,
  'branch:list': BranchList,
  'branch:merge': BranchMerge,
  'branch:prune': BranchPrune,
  'branch:rename': BranchRename,
  'branch:reset': BranchReset,
  'branch:show': BranchShow,
  'branch:url': BranchUrl,
  history: History,
  'history:prune': HistoryPrune,
  'mask:check': MaskCheck,
  'mask:init': MaskInit,
  mcp: Mcp,
  'snapshot:create': SnapshotCreate,
  'snapshot:delete': SnapshotDelete,
  'snapshot:list': SnapshotList,
  'snapshot:show': SnapshotShow,
  completion: Completion,
  help: Help,
  start: Start,
  stop: Stop,
  version: Version,
};
