/**
 * `npm run build` step: writes oclif.manifest.json, the list of commands with their flags and help.
 *
 * Without it, oclif imports every command module (and with them the server, the schema diff and
 * the clone code) on every run just to find the one asked for: about a third of each command's
 * start-up. With it, `ayb branch create` imports only what create needs. The file is generated,
 * never edited, and not committed; a stale one (from an older build) is replaced by every build.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
const file = path.join(root, 'oclif.manifest.json');
await writeFile(file, JSON.stringify(plugin.manifest, null, 2) + '\n');
process.stdout.write(`wrote ${path.relative(process.cwd(), file) || file} (${Object.keys(plugin.manifest.commands).length} commands)\n`);
