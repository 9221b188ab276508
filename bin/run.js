#!/usr/bin/env node
// dist/ayb.cjs is the CLI's entry, built by `npm run build` (src/cli.ts, tools/build/bundle.ts): oclif and the
// list of commands; each command's code is a chunk in dist/chunks, loaded only when that command runs.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

// Keep V8's compiled code of the bundle on disk between runs, so that a command does not compile oclif, pg and
// zod again each time it starts (about a fifth of its CPU). Node 22.1+ does it itself (in the OS temp folder);
// on older Node, the bundle's files are compiled here as scripts with V8's cached data (the only kind Node 20
// keeps: CommonJS, hence a CommonJS bundle), in the user's cache folder. Any failure only means no cache.
if (module.enableCompileCache) module.enableCompileCache();
else keepCompiledCode();

let cli;
try {
  cli = module.createRequire(import.meta.url)('../dist/ayb.cjs');
} catch (error) {
  if (error?.code !== 'MODULE_NOT_FOUND' || !String(error.message).includes('ayb.cjs')) throw error;
  const root = new URL('..', import.meta.url).pathname;
  process.stderr.write(`Error: ayb is not built (dist/ayb.cjs is missing)\nHint: run npm ci && npm run build in ${root}\n`);
  process.exit(1);
}
await cli.execute({ dir: import.meta.url });

/**
 * Compiles dist's .cjs files with the cached data of an earlier run when its source is the same (a file per
 * bundle file: the SHA-1 of the source, then V8's data); at exit, writes it for those that had none, with the
 * functions this run compiled. Otherwise what Node's loader does: the same wrapper, arguments and file name.
 */
function keepCompiledCode() {
  let folder;
  try {
    const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    const build = createHash('sha1').update(`${dist}\0${process.versions.v8}\0${process.arch}`).digest('hex').slice(0, 16);
    folder = path.join(cache, 'ayb', 'code-cache', build);
  } catch {
    return;
  }
  const toWrite = [];
  const compile = module.Module.prototype._compile;
  module.Module.prototype._compile = function (content, filename) {
    if (!filename.startsWith(dist) || !filename.endsWith('.cjs')) return compile.call(this, content, filename);
    const digest = createHash('sha1').update(content).digest();
    const file = path.join(folder, path.basename(filename));
    let cachedData;
    try {
      const data = readFileSync(file);
      if (data.subarray(0, digest.length).equals(digest)) cachedData = data.subarray(digest.length);
    } catch {
      // none yet
    }
    // No import() in these files: Node 20 loses its loader in code from cached data (ERR_VM_DYNAMIC_IMPORT_CALLBACK_
    // MISSING), so ayb's code requires (src/postgres/managed/binaries.ts, confirm in src/commands/command.ts). oclif's
    // import() loads ES-module plugins and configs, which ayb has none of.
    const script = new vm.Script(module.wrap(content), { filename, cachedData });
    if (cachedData === undefined || script.cachedDataRejected) toWrite.push({ script, file, digest });
    const wrapper = script.runInThisContext({ displayErrors: true });
    const require = module.createRequire(filename);
    return wrapper.call(this.exports, this.exports, require, this, filename, path.dirname(filename));
  };
  process.once('exit', () => {
    if (toWrite.length === 0) return;
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      for (const { script, file, digest } of toWrite) {
        const partial = `${file}.${process.pid}.tmp`;
        writeFileSync(partial, Buffer.concat([digest, script.createCachedData()]), { mode: 0o600 });
        renameSync(partial, file);
      }
      // The files of older builds (chunk names change with their content).
      const current = new Set(['ayb.cjs', ...readdirSync(path.join(dist, 'chunks'))]);
      for (const name of readdirSync(folder)) if (!current.has(name) && !name.endsWith('.tmp')) rmSync(path.join(folder, name), { force: true });
    } catch {
      // no cache this time
    }
  });
}
