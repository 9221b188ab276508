/** `npm run build` step: fails when a module under src/ imports from a higher layer (see layers.ts). */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { layerProblems } from './layers.js';

// This file runs as dist-tools/tools/build/check-layers.js.
const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');
const files = new Map<string, string>();
for (const entry of await readdir(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
  const full = path.join(entry.parentPath, entry.name);
  files.set(path.relative(src, full).split(path.sep).join('/'), await readFile(full, 'utf8'));
}
const problems = layerProblems(files);
if (problems.length > 0) {
  process.stderr.write(`Upward imports under src/ (layers: tools/build/layers.ts):\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`layers: ${files.size} modules, no upward import\n`);
