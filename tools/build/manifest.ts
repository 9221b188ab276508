/**
 * `npm run build` step, after the bundle: writes oclif.manifest.json, the list of commands with
 * their flags and help, read from COMMANDS in dist/ayb.cjs.
 *
 * Without it, oclif derives that list on every run from the command classes, flag by flag, to find
 * the one asked for. The file is generated, never edited, and not committed; a stale one (from an
 * older build) is replaced by every build.
 */
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

// This file runs as dist-tools/tools/build/manifest.js.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// The command classes themselves, not the CLI's lazy stand-ins (src/cli.ts): their flags and help are the manifest.
// oclif requires the same file below and gets this module, with the classes in COMMANDS.
const cli = createRequire(import.meta.url)(path.join(root, 'dist', 'ayb.cjs')) as { loadAllCommands(): Promise<void> };
await cli.loadAllCommands();
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
const file = path.join(root, 'oclif.manifest.json');
await writeFile(file, JSON.stringify(plugin.manifest, null, 2) + '\n');
process.stdout.write(`wrote ${path.relative(process.cwd(), file) || file} (${Object.keys(plugin.manifest.commands).length} commands)\n`);
