#!/usr/bin/env node
// dist/ayb.js is the CLI's entry, built by `npm run build` (src/cli.ts, tools/build/bundle.ts): oclif and the
// list of commands; each command's code is a chunk in dist/chunks, loaded only when that command runs.
import module from 'node:module';

// Node 22.1+: keep the compiled code of dist/ayb.js on disk between runs (in the OS temp folder), so a
// command does not compile the bundle again each time it starts. Absent (a no-op) on older Node.
module.enableCompileCache?.();

let cli;
try {
  cli = await import('../dist/ayb.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('ayb.js')) throw error;
  const root = new URL('..', import.meta.url).pathname;
  process.stderr.write(`Error: ayb is not built (dist/ayb.js is missing)\nHint: run npm ci && npm run build in ${root}\n`);
  process.exit(1);
}
await cli.execute({ dir: import.meta.url });
